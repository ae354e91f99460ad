/**
 * Token record ids are UUIDs version 7 (RFC 9562 §5.7): the plugin's clock in their first 48 bits, so that
 * they sort by creation time (the tokens table takes new rows at the end of its key and the cleanup deletes
 * from its start), and 74 random bits.
 */
import t from 'tap'
import { hashToken, timeOrderedId } from '../lib/crypto/tokens.js'
import { buildApp, T0 } from './fixtures/app.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The 48-bit time prefix of a UUID, as the 12 hex digits it is written with. */
const timeHex = (id: string): string => id.replace('-', '').slice(0, 12)

t.test('the layout: version 7, RFC 9562 variant, the time in milliseconds first', async (t) => {
  const id = timeOrderedId(T0)
  t.match(id, UUID_V7)
  t.equal(timeHex(id), T0.toString(16).padStart(12, '0'))
  t.equal(timeHex(timeOrderedId(-5)), '000000000000', 'a clock before 1970 reads as 0')
  t.equal(timeHex(timeOrderedId(2 ** 50)), 'ffffffffffff', 'past 48 bits, the largest')
  t.equal(timeHex(timeOrderedId(T0 + 0.9)), timeHex(id), 'whole milliseconds')
})

t.test('ids sort by time as text, and those of one millisecond differ', async (t) => {
  const times = [T0 + 1000, T0, T0 + 1, T0 + 3_600_000, T0 + 255, T0 + 256]
  const ids = times.map((time) => timeOrderedId(time))
  const byText = [...ids].sort()
  t.same(byText.map((id) => ids.indexOf(id)), [1, 2, 4, 5, 0, 3])
  const same = new Set(Array.from({ length: 10_000 }, () => timeOrderedId(T0)))
  t.equal(same.size, 10_000)
})

t.test('the token endpoint stores records under such ids, the family under its first', async (t) => {
  const ctx = await buildApp(t, { refreshTokenReuseInterval: 0 })
  await ctx.signUp('pony', 'djangsta-secret')
  const login = (await ctx.login('pony', 'djangsta-secret')).json()
  const first = await ctx.store.findByRefreshTokenHash(hashToken(login.refresh_token))
  t.match(first?.id, UUID_V7)
  t.equal(timeHex(first?.id ?? ''), T0.toString(16).padStart(12, '0'), 'the plugin clock, not the wall clock')
  ctx.advance(60)
  const refreshed = await ctx.refresh(login.refresh_token)
  t.equal(refreshed.statusCode, 200)
  const second = await ctx.store.findByRefreshTokenHash(hashToken(refreshed.json().refresh_token))
  t.match(second, { familyId: first?.id, parentId: first?.id })
  t.ok((second?.id ?? '') > (first?.id ?? ''), 'a later record sorts after')
})
