/**
 * Compile-time assertions for the type tests under test/types/. These files are compiled by `tsc` (part of
 * `npm test`) and never run: a failing assertion is a compile error.
 */

/** `true` when `A` and `B` are the same type; mutual assignability is not enough (`any` would pass it). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false

/**
 * `expectType<Expected>()(value)` compiles only when the type of `value` is exactly `Expected`: on a
 * mismatch the call lacks its second argument, and the compiler names the actual type.
 */
export function expectType<Expected> (): <Actual>(value: Actual, ...mismatch: Equal<Actual, Expected> extends true ? [] : [actualType: Actual]) => void {
  return () => undefined
}
