/**
 * The benchmark's arithmetic: pure functions over numbers the runs measured, tested in test/bench.test.ts.
 */

/** The median of `values` (the mean of the middle two for an even count); `NaN` for none. */
export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/**
 * The `p`-th percentile (0 < p ≤ 100) of `values` by the nearest-rank method: the smallest value that at
 * least `p` percent of the values do not exceed. `NaN` for none.
 */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] as number
}

/** `a / b`, or `NaN` when `b` is zero or either is not a finite number. */
export function ratio (a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN
  return a / b
}

/** The element-wise ratios `a[i] / b[i]` of two series of one length. */
export function ratios (a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new RangeError(`ratios: series of ${a.length} and ${b.length} values`)
  return a.map((value, i) => ratio(value, b[i] as number))
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number
  p50: number
  p99: number
  max: number
}

/** p50, p99 and the maximum of latencies in milliseconds. */
export function summarizeLatencies (latencies: readonly number[]): LatencySummary {
  return {
    count: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length === 0 ? Number.NaN : latencies.reduce((a, b) => Math.max(a, b))
  }
}

/** CPU time in microseconds, as `process.cpuUsage()` reports it. */
export interface CpuUsage {
  user: number
  system: number
}

/** Microseconds of CPU (user + system) per request between two `process.cpuUsage()` readings. */
export function cpuMicrosPerRequest (before: CpuUsage, after: CpuUsage, requests: number): number {
  return ratio((after.user - before.user) + (after.system - before.system), requests)
}

/** A measured value against its target: `max` targets must not be exceeded, `min` targets must be reached. */
export interface TargetCheck {
  name: string
  value: number
  target: number
  kind: 'max' | 'min'
  met: boolean
}

/** Checks `value` against a target; a value that is not a number meets nothing. */
export function checkTarget (name: string, value: number, kind: 'max' | 'min', target: number): TargetCheck {
  const met = Number.isFinite(value) && (kind === 'max' ? value <= target : value >= target)
  return { name, value, target, kind, met }
}

/** A deterministic pseudo-random generator (mulberry32) in [0, 1): the same seed draws the same tokens. */
export function seededRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` integers drawn from [0, range) with `random`. */
export function sampleIndexes (count: number, range: number, random: () => number): number[] {
  return Array.from({ length: count }, () => Math.floor(random() * range))
}
