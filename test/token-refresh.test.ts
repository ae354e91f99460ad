/** RFC 6749 §6 refresh with rotation; reuse detection per RFC 9700 §4.14.2; concurrency. */
import t from 'tap'
import { hashToken } from '../lib/crypto/tokens.js'
import { basic, buildApp, loggedIn } from './fixtures/app.js'

t.test('a refresh rotates: new pair, old access and refresh tokens dead, same family', async (t) => {
  const ctx = await buildApp(t)
  const first = await loggedIn(ctx)
  const res = await ctx.refresh(first.refresh_token)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.pragma, 'no-cache')
  const second = res.json()
  t.match(second, { token_type: 'Bearer', expires_in: 3600, scope: 'read write' })
  t.not(second.access_token, first.access_token)
  t.not(second.refresh_token, first.refresh_token)

  const old = await ctx.me(first.access_token)
  t.equal(old.statusCode, 401, 'the old access token died with the rotation')
  t.match(old.headers['www-authenticate'], /error="invalid_token"/)
  t.equal((await ctx.me(second.access_token)).statusCode, 200)

  const a = await ctx.store.findByRefreshTokenHash(hashToken(first.refresh_token))
  const b = await ctx.store.findByRefreshTokenHash(hashToken(second.refresh_token))
  t.equal(b!.familyId, a!.familyId)
  t.equal(b!.parentId, a!.id)
  t.not(a!.rotatedAt, null)
})

t.test('a refresh token replayed after its reuse window revokes its whole family, not another login', async (t) => {
  const ctx = await buildApp(t)
  const first = await loggedIn(ctx)
  const otherLogin = (await ctx.login('pony', 'djangsta-secret')).json()
  const second = (await ctx.refresh(first.refresh_token)).json()
  ctx.advance(5)
  const third = (await ctx.refresh(second.refresh_token)).json()
  t.equal((await ctx.me(third.access_token)).statusCode, 200)

  const replay = await ctx.refresh(first.refresh_token)
  t.equal(replay.statusCode, 400, 'five seconds after its rotation: the default window has passed')
  t.same(replay.json(), { error: 'invalid_grant', error_description: 'The refresh token is invalid, expired or revoked.' })

  t.equal((await ctx.me(third.access_token)).statusCode, 401, 'the newest access token of the family is dead')
  t.equal((await ctx.refresh(third.refresh_token)).statusCode, 400, 'the newest refresh token of the family is dead')
  t.equal((await ctx.me(otherLogin.access_token)).statusCode, 200, 'another login is untouched')
  t.equal((await ctx.refresh(otherLogin.refresh_token)).statusCode, 200)
  const stored = await ctx.store.findByRefreshTokenHash(hashToken(third.refresh_token))
  t.not(stored!.revokedAt, null)
})

t.test('inside the reuse window a rotated token is exchanged again: each pair works and refreshes onward', async (t) => {
  const ctx = await buildApp(t, { refreshTokenReuseInterval: 10 })
  const first = await loggedIn(ctx)
  const second = (await ctx.refresh(first.refresh_token)).json()
  ctx.advance(9)
  const again = await ctx.refresh(first.refresh_token)
  t.equal(again.statusCode, 200, 'exchanged again within the interval')
  const sibling = again.json()
  t.equal((await ctx.me(sibling.access_token)).statusCode, 200)
  t.equal((await ctx.me(second.access_token)).statusCode, 200, 'the first pair still works too')
  t.equal((await ctx.refresh(second.refresh_token)).statusCode, 200, 'and refreshes onward')
  t.equal((await ctx.refresh(sibling.refresh_token)).statusCode, 200, 'as does the second pair')
})

t.test('inside the window a token is exchanged at most MAX_REFRESH_EXCHANGES times; the family lives', async (t) => {
  const ctx = await buildApp(t)
  const first = await loggedIn(ctx)
  const answers = []
  for (let i = 0; i < 8; i++) answers.push(await ctx.refresh(first.refresh_token))
  t.same(answers.map((r) => r.statusCode), [200, 200, 200, 200, 200, 400, 400, 400])
  t.equal(answers[5]!.json().error, 'invalid_grant')
  for (const pair of answers.slice(0, 5)) t.equal((await ctx.me(pair.json().access_token)).statusCode, 200, 'every pair works')
})

t.test('past the reuse interval a replay revokes the family', async (t) => {
  const ctx = await buildApp(t, { refreshTokenReuseInterval: 10 })
  const first = await loggedIn(ctx)
  const second = (await ctx.refresh(first.refresh_token)).json()
  ctx.advance(10)
  t.equal((await ctx.refresh(first.refresh_token)).statusCode, 400)
  t.equal((await ctx.me(second.access_token)).statusCode, 401)
})

t.test('with the window off, 10 concurrent refreshes of one token: one pair, then the replays end the family', async (t) => {
  const ctx = await buildApp(t, { refreshTokenReuseInterval: 0 })
  const first = await loggedIn(ctx)
  const results = await Promise.all(Array.from({ length: 10 }, () => ctx.refresh(first.refresh_token)))
  const statuses = results.map((r) => r.statusCode).sort()
  t.same(statuses, [200, 400, 400, 400, 400, 400, 400, 400, 400, 400])
  for (const res of results.filter((r) => r.statusCode === 400)) t.equal(res.json().error, 'invalid_grant')
  const winner = results.find((r) => r.statusCode === 200)!.json()
  t.equal((await ctx.me(winner.access_token)).statusCode, 401, 'a second exchange is a replay: the family is dead')
})

t.test('refresh errors', async (t) => {
  const ctx = await buildApp(t, { refreshTokenTtl: 100 })
  const first = await loggedIn(ctx)
  const missing = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    payload: { grant_type: 'refresh_token', client_id: ctx.publicId }
  })
  t.same(missing.json(), { error: 'invalid_request', error_description: 'Request is missing refresh_token parameter.' })
  t.equal((await ctx.refresh('unknown-token')).json().error, 'invalid_grant')
  t.equal((await ctx.refresh(first.access_token)).json().error, 'invalid_grant', 'an access token is no refresh token')

  const otherClient = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    headers: { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) },
    payload: { grant_type: 'refresh_token', refresh_token: first.refresh_token }
  })
  t.equal(otherClient.statusCode, 400, 'a refresh token is bound to its client')
  t.equal(otherClient.json().error, 'invalid_grant')

  t.equal((await ctx.refresh(first.refresh_token, { scope: 'read admin' })).json().error, 'invalid_scope', 'never wider')
  const narrowed = await ctx.refresh(first.refresh_token, { scope: 'read' })
  t.equal(narrowed.json().scope, 'read', 'narrowing is allowed')
  const narrowedAgain = (await ctx.refresh(narrowed.json().refresh_token, { scope: 'write' })).json()
  t.equal(narrowedAgain.error, 'invalid_scope', 'the narrowed token cannot widen back')

  ctx.advance(101)
  t.equal((await ctx.refresh(narrowed.json().refresh_token)).json().error, 'invalid_grant', 'expired')
})

t.test('a revoked refresh token and a deleted user both refuse the refresh', async (t) => {
  const ctx = await buildApp(t)
  const first = await loggedIn(ctx)
  const record = await ctx.store.findByRefreshTokenHash(hashToken(first.refresh_token))
  await ctx.store.revokeToken(record!.id, Date.now())
  t.equal((await ctx.refresh(first.refresh_token)).json().error, 'invalid_grant')

  const second = (await ctx.login('pony', 'djangsta-secret')).json()
  const user = await ctx.store.findUserByUsernameKey('pony')
  // Simulate an app deleting the user: the memory store has no deleteUser, so swap the lookup.
  const original = ctx.store.findUserById.bind(ctx.store)
  ctx.store.findUserById = async (id) => id === user!.id ? null : original(id)
  t.equal((await ctx.refresh(second.refresh_token)).json().error, 'invalid_grant')
})

t.test('a confidential client refreshes with Basic and gets the same scopes', async (t) => {
  const ctx = await buildApp(t)
  await ctx.signUp('pony', 'djangsta-secret')
  const auth = { authorization: basic(ctx.confidentialId, ctx.confidentialSecret) }
  const login = await ctx.app.inject({ method: 'POST', url: '/o/token/', headers: auth, payload: { grant_type: 'password', username: 'pony', password: 'djangsta-secret', scope: 'read' } })
  t.equal(login.statusCode, 200)
  const res = await ctx.app.inject({ method: 'POST', url: '/o/token/', headers: auth, payload: { grant_type: 'refresh_token', refresh_token: login.json().refresh_token } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().scope, 'read')
})

t.test('losing the compare-and-swap to a concurrent refresh: invalid_grant, the family lives on', async (t) => {
  const ctx = await buildApp(t)
  const first = await loggedIn(ctx)
  // Another instance rotates the token between this request's read and its swap.
  ctx.store.rotateRefreshToken = async () => false
  const res = await ctx.refresh(first.refresh_token)
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'invalid_grant')
  t.equal((await ctx.me(first.access_token)).statusCode, 200, 'no family revocation for a lost race')
})

t.test('a rotated refresh token replayed after it was also revoked still ends its family', async (t) => {
  const ctx = await buildApp(t)
  const first = await loggedIn(ctx)
  const second = (await ctx.refresh(first.refresh_token)).json()
  const old = await ctx.store.findByRefreshTokenHash(hashToken(first.refresh_token))
  await ctx.store.revokeToken(old!.id, Date.now())
  ctx.advance(5)
  t.equal((await ctx.refresh(first.refresh_token)).json().error, 'invalid_grant')
  t.equal((await ctx.me(second.access_token)).statusCode, 401, 'the newer tokens of the family are dead')
})
