/**
 * Tokens, client ids and token record ids take their random bytes from a pool drawn from Node's CSPRNG
 * 4 KiB at a time (`randomSlice`). What must hold: no byte is handed out twice, within a pool or across its
 * replacement, and the bytes a caller holds never change afterwards.
 */
import t from 'tap'
import { generateClientId, generateToken, RANDOM_POOL_BYTES, randomSlice, timeOrderedId } from '../lib/crypto/tokens.js'

t.test('every draw has the size asked for, across pool replacements and beyond the pool size', async (t) => {
  for (const size of [1, 16, 18, 32, RANDOM_POOL_BYTES - 1, RANDOM_POOL_BYTES, RANDOM_POOL_BYTES + 1, 3 * RANDOM_POOL_BYTES]) {
    t.equal(randomSlice(size).length, size, `${size} bytes`)
  }
})

t.test('tokens, client ids and record ids drawn across many pools are all distinct', async (t) => {
  // 40 pools' worth of tokens, with ids in between so that draws straddle the pools' ends.
  const count = (RANDOM_POOL_BYTES / 32) * 40
  const tokens = new Set<string>()
  const clientIds = new Set<string>()
  const ids = new Set<string>()
  for (let i = 0; i < count; i++) {
    tokens.add(generateToken())
    if (i % 3 === 0) clientIds.add(generateClientId())
    if (i % 5 === 0) ids.add(timeOrderedId(0))
  }
  t.equal(tokens.size, count)
  t.equal(clientIds.size, Math.ceil(count / 3))
  t.equal(ids.size, Math.ceil(count / 5))
  t.ok([...tokens].every((token) => /^[A-Za-z0-9_-]{43}$/.test(token)), 'each token is 43 base64url characters')
})

t.test('a draw shares no byte with the next ones: writing into it changes none of them', async (t) => {
  // Sizes that cross the pool's end at different points.
  for (const size of [7, 16, 32, 1000, RANDOM_POOL_BYTES]) {
    const first = randomSlice(size)
    const next = Array.from({ length: 300 }, () => randomSlice(size))
    const copies = next.map((bytes) => Buffer.from(bytes))
    first.fill(0)
    t.ok(next.every((bytes, i) => bytes.equals(copies[i] as Buffer)), `draws of ${size} bytes`)
    // Nor does a later draw overwrite an earlier one (a pool is replaced, not refilled in place).
    const held = Buffer.from(next[0] as Buffer)
    for (let i = 0; i < 2 * RANDOM_POOL_BYTES / size + 1; i++) randomSlice(size)
    t.ok((next[0] as Buffer).equals(held), `a held draw of ${size} bytes is unchanged after the pool is replaced`)
  }
})

t.test('the bytes look uniform: every byte value appears about as often as the others', async (t) => {
  const bytes = Buffer.concat(Array.from({ length: 2048 }, () => randomSlice(32)))
  const counts = new Array<number>(256).fill(0)
  for (const byte of bytes) counts[byte] = (counts[byte] as number) + 1
  // 65,536 bytes: 256 expected per value. Chi-squared with 255 degrees of freedom: above 360 about once in
  // 10^5 runs for a uniform source; a pool left zeroed goes far past it.
  const chiSquared = counts.reduce((sum, count) => sum + (count - 256) ** 2 / 256, 0)
  t.ok(chiSquared < 360, `chi-squared ${chiSquared.toFixed(1)}`)
})
