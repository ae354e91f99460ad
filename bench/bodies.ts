/**
 * Request bodies that differ at each request, for routes that refuse a repeat (a sign-up of a taken username):
 * built by the load generators, so they must cost next to nothing.
 */

/**
 * The bodies of `template` with each `marker` replaced by `n`: split once, so that a body costs one join
 * (the storm's generator makes one per request). Throws when `marker` is not in the template.
 */
export function numberedBodies (template: string, marker: string): (n: number) => string {
  const parts = template.split(marker)
  if (marker === '' || parts.length < 2) throw new RangeError(`numberedBodies: no "${marker}" in the body`)
  return (n) => parts.join(String(n))
}
