/**
 * The optional cache of verified access tokens (option `tokenCache`): hits spare the store, the cache is
 * bounded, an entry lives at most `ttl` seconds and never past its token's expiry, and every revocation
 * made by this process drops the matching entries at once.
 */
import t, { type Test } from 'tap'
import { TokenCache, type VerifiedToken } from '../lib/auth/token-cache.js'
import { MemoryStore, type AccessTokenLookup } from '../lib/index.js'
import { basic, buildApp, loggedIn, T0, type TestApp } from './fixtures/app.js'

/** A MemoryStore that counts bearer lookups and can hold one back after reading. */
class CountingStore extends MemoryStore {
  lookups = 0
  gate: Promise<void> | null = null

  override async findByAccessTokenHash (accessTokenHash: string): Promise<AccessTokenLookup | null> {
    this.lookups++
    const found = await super.findByAccessTokenHash(accessTokenHash)
    if (this.gate !== null) await this.gate
    return found
  }
}

function verified (id: string, overrides: Partial<VerifiedToken> = {}): VerifiedToken {
  return {
    tokenId: id,
    familyId: `family-${id}`,
    userId: `user-${id}`,
    clientId: 'client',
    scopes: ['read'],
    user: { id: `user-${id}`, username: id },
    accessExpiresAt: T0 + 3_600_000,
    ...overrides
  }
}

t.test('TokenCache', async (t) => {
  t.test('off: holds nothing, and its invalidations are harmless', async (t) => {
    const cache = new TokenCache(false)
    t.equal(cache.enabled, false)
    cache.set('h', verified('a'), cache.epoch, T0)
    t.equal(cache.get('h', T0), undefined)
    t.equal(cache.size, 0)
    cache.invalidateToken('a')
    cache.invalidateFamily('f')
    cache.invalidateUser('u')
    cache.clear()
    t.equal(cache.size, 0)
  })

  t.test('bounded: an entry not used lately goes first, a used one gets a second chance', async (t) => {
    const cache = new TokenCache({ max: 2, ttl: 60 })
    t.equal(cache.enabled, true)
    cache.set('a', verified('a'), cache.epoch, T0)
    cache.set('b', verified('b'), cache.epoch, T0)
    t.equal(cache.get('a', T0)?.tokenId, 'a', 'a is used')
    cache.set('c', verified('c'), cache.epoch, T0)
    t.equal(cache.size, 2)
    t.equal(cache.get('b', T0), undefined, 'b, older than c and unused, was evicted')
    cache.set('d', verified('d'), cache.epoch, T0)
    t.equal(cache.size, 2)
    t.equal(cache.get('a', T0), undefined, 'a, passed over once and unused since, went before the newer c')
    t.equal(cache.get('c', T0)?.tokenId, 'c')
    t.equal(cache.get('d', T0)?.tokenId, 'd')
    cache.set('d', verified('d2', { tokenId: 'd' }), cache.epoch, T0)
    t.equal(cache.size, 2, 'setting a cached hash again replaces its entry')
    t.equal(cache.get('d', T0)?.user?.username, 'd2')
    cache.set('e', verified('e'), cache.epoch, T0)
    t.equal(cache.size, 2)
    t.equal(cache.get('c', T0), undefined, 'when every entry was used, each gets its second chance and the oldest goes')
    t.equal(cache.get('d', T0)?.user?.username, 'd2')
    t.equal(cache.get('e', T0)?.tokenId, 'e', 'a new entry is never the one evicted')
  })

  t.test('an entry lives at most ttl seconds, and never past its token\'s expiry', async (t) => {
    const cache = new TokenCache({ max: 10, ttl: 5 })
    cache.set('long', verified('long'), cache.epoch, T0)
    cache.set('short', verified('short', { accessExpiresAt: T0 + 1000 }), cache.epoch, T0)
    cache.set('dead', verified('dead', { accessExpiresAt: T0 }), cache.epoch, T0)
    t.equal(cache.size, 2, 'a token expiring now is not cached')
    t.equal(cache.get('short', T0 + 999)?.tokenId, 'short')
    t.equal(cache.get('short', T0 + 1000), undefined, 'gone at the token\'s expiry')
    t.equal(cache.get('long', T0 + 4999)?.tokenId, 'long')
    t.equal(cache.get('long', T0 + 5000), undefined, 'gone after ttl')
    t.equal(cache.size, 0, 'expired entries are dropped when met')
  })

  t.test('invalidation drops a token, a family or a user, and bumps the epoch', async (t) => {
    const cache = new TokenCache({ max: 10, ttl: 60 })
    const fill = (): void => {
      cache.set('a', verified('a', { familyId: 'f1', userId: 'u1' }), cache.epoch, T0)
      cache.set('b', verified('b', { familyId: 'f1', userId: 'u2' }), cache.epoch, T0)
      cache.set('c', verified('c', { familyId: 'f2', userId: 'u2' }), cache.epoch, T0)
      cache.set('d', verified('d', { familyId: 'f3', userId: null, user: null }), cache.epoch, T0)
    }
    const held = (): string[] => ['a', 'b', 'c', 'd'].filter((hash) => cache.get(hash, T0) !== undefined)
    fill()
    const epoch = cache.epoch
    cache.invalidateToken('b')
    t.same(held(), ['a', 'c', 'd'])
    t.ok(cache.epoch > epoch)
    cache.invalidateToken('unknown')
    t.same(held(), ['a', 'c', 'd'])
    cache.invalidateFamily('f1')
    t.same(held(), ['c', 'd'])
    fill()
    cache.invalidateUser('u2')
    t.same(held(), ['a', 'd'])
    cache.clear()
    t.same(held(), [])
    t.equal(cache.size, 0)
  })

  t.test('a lookup that overlapped an invalidation is not cached', async (t) => {
    const cache = new TokenCache({ max: 10, ttl: 60 })
    const epoch = cache.epoch
    cache.invalidateUser('someone')
    cache.set('a', verified('a'), epoch, T0)
    t.equal(cache.get('a', T0), undefined)
    cache.set('a', verified('a'), cache.epoch, T0)
    t.equal(cache.get('a', T0)?.tokenId, 'a')
  })
})

async function cachedApp (t: Test, options: Record<string, unknown> = {}): Promise<{ ctx: TestApp, store: CountingStore }> {
  const store = new CountingStore()
  const ctx = await buildApp(t, { store, tokenCache: { max: 100, ttl: 5 }, ...options }, undefined, (app) => {
    app.get('/admin', { onRequest: app.oauth2.authenticate({ scopes: ['admin'] }) }, async () => ({ ok: true }))
    app.get('/scribble', { onRequest: app.oauth2.authenticate() }, async (request) => {
      // A route that changes what it was given must not change what the next request gets.
      const user = request.user as { username: string }
      user.username = 'changed'
      request.oauth?.scopes.push('admin')
      return { ok: true }
    })
  })
  return { ctx, store }
}

t.test('off by default: every bearer check asks the store', async (t) => {
  const store = new CountingStore()
  const ctx = await buildApp(t, { store })
  const tokens = await loggedIn(ctx)
  for (let i = 0; i < 3; i++) t.equal((await ctx.me(tokens.access_token)).statusCode, 200)
  t.equal(store.lookups, 3)
})

t.test('on: hits skip the store and decorate the request as the store would', async (t) => {
  const { ctx, store } = await cachedApp(t)
  const tokens = await loggedIn(ctx)
  const first = await ctx.me(tokens.access_token)
  t.equal(first.statusCode, 200)
  for (let i = 0; i < 3; i++) {
    const again = await ctx.me(tokens.access_token)
    t.equal(again.statusCode, 200)
    t.same(again.json(), first.json(), 'the same user and oauth context')
  }
  t.equal(store.lookups, 1, 'one lookup, then hits')

  // Each request gets its own copies of the cached user and scopes.
  const scribble = await ctx.app.inject({ url: '/scribble', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(scribble.statusCode, 200)
  t.match((await ctx.me(tokens.access_token)).json(), { user: { username: 'pony' }, oauth: { scopes: ['read', 'write'] } })
  const admin = await ctx.app.inject({ url: '/admin', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(admin.statusCode, 403, 'the scope check runs on a hit too')
  t.equal(store.lookups, 1)

  // Unknown and malformed tokens are never cached: each asks the store (or nothing) again.
  for (let i = 0; i < 2; i++) t.equal((await ctx.me('not-a-token')).statusCode, 401)
  t.equal(store.lookups, 3)
})

t.test('on: an entry lives ttl seconds on the plugin\'s clock, then the store is asked again', async (t) => {
  const { ctx, store } = await cachedApp(t)
  const tokens = await loggedIn(ctx)
  await ctx.me(tokens.access_token)
  ctx.advance(4)
  await ctx.me(tokens.access_token)
  t.equal(store.lookups, 1)
  ctx.advance(1)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200)
  t.equal(store.lookups, 2)
})

t.test('on: a cached token still expires on time', async (t) => {
  const { ctx } = await cachedApp(t, { accessTokenTtl: 3 })
  const tokens = await loggedIn(ctx)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200)
  ctx.advance(3)
  const res = await ctx.me(tokens.access_token)
  t.equal(res.statusCode, 401)
  t.equal(res.json().error_description, 'The access token has expired.')
})

t.test('on: a refresh rotation kills the cached access token at once', async (t) => {
  const { ctx } = await cachedApp(t)
  const tokens = await loggedIn(ctx)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200)
  const rotated = await ctx.refresh(tokens.refresh_token)
  t.equal(rotated.statusCode, 200)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 401, 'the old access token')
  t.equal((await ctx.me(rotated.json().access_token)).statusCode, 200, 'the new one')
})

t.test('on: reuse detection kills the whole family\'s cached tokens at once', async (t) => {
  // No reuse window, so that the replay comes while the entry is cached.
  const { ctx } = await cachedApp(t, { refreshTokenReuseInterval: 0 })
  const tokens = await loggedIn(ctx)
  const rotated = (await ctx.refresh(tokens.refresh_token)).json()
  t.equal((await ctx.me(rotated.access_token)).statusCode, 200, 'cached')
  const replay = await ctx.refresh(tokens.refresh_token)
  t.equal(replay.statusCode, 400)
  t.equal(replay.json().error, 'invalid_grant')
  t.equal((await ctx.me(rotated.access_token)).statusCode, 401, 'the family is revoked, cache included')
})

t.test('on: revokeUserTokens ("log out everywhere") kills the user\'s cached tokens at once', async (t) => {
  const { ctx, store } = await cachedApp(t)
  const pony = await loggedIn(ctx)
  const other = await loggedIn(ctx, 'other', 'another-secret')
  t.equal((await ctx.me(pony.access_token)).statusCode, 200)
  t.equal((await ctx.me(other.access_token)).statusCode, 200)
  const user = await store.findUserByUsernameKey('pony')
  t.equal(await ctx.app.oauth2.revokeUserTokens(user!.id), 1)
  t.equal((await ctx.me(pony.access_token)).statusCode, 401)
  const lookups = store.lookups
  t.equal((await ctx.me(other.access_token)).statusCode, 200, 'another user\'s entry stays')
  t.equal(store.lookups, lookups, 'and is still a hit')
})

t.test('on: a revocation made elsewhere (another instance) takes effect within ttl seconds', async (t) => {
  const { ctx, store } = await cachedApp(t)
  const tokens = await loggedIn(ctx)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200)
  const user = await store.findUserByUsernameKey('pony')
  await store.revokeUserTokens(user!.id, T0)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 200, 'still trusted from the cache')
  ctx.advance(5)
  t.equal((await ctx.me(tokens.access_token)).statusCode, 401, 'refused once the entry expired')
})

t.test('on: a check that overlapped a revocation answers as it read, but is not cached', async (t) => {
  const { ctx, store } = await cachedApp(t)
  const tokens = await loggedIn(ctx)
  let release = (): void => {}
  store.gate = new Promise((resolve) => { release = resolve })
  const pending = ctx.me(tokens.access_token)
  while (store.lookups === 0) await new Promise((resolve) => setImmediate(resolve))
  const user = await store.findUserByUsernameKey('pony')
  await ctx.app.oauth2.revokeUserTokens(user!.id)
  store.gate = null
  release()
  t.equal((await pending).statusCode, 200, 'it read the token before the revocation')
  t.equal((await ctx.me(tokens.access_token)).statusCode, 401, 'and did not cache it')
})

t.test('on: the revocation endpoint (RFC 7009) kills the cached tokens at once', async (t) => {
  const { ctx } = await cachedApp(t)
  const revoke = async (token: string): Promise<number> => (await ctx.app.inject({
    method: 'POST',
    url: '/o/revoke_token/',
    payload: new URLSearchParams({ token, client_id: ctx.publicId }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' }
  })).statusCode

  const first = await loggedIn(ctx)
  t.equal((await ctx.me(first.access_token)).statusCode, 200, 'cached')
  t.equal(await revoke(first.access_token), 200)
  t.equal((await ctx.me(first.access_token)).statusCode, 401, 'a revoked access token')

  const second = await loggedIn(ctx)
  t.equal((await ctx.me(second.access_token)).statusCode, 200, 'cached')
  t.equal(await revoke(second.refresh_token), 200)
  t.equal((await ctx.me(second.access_token)).statusCode, 401, 'the access token of a revoked refresh token\'s family')
})

t.test('on: a client-credentials token (no user) is cached too', async (t) => {
  const { ctx, store } = await cachedApp(t)
  const issued = await ctx.app.inject({
    method: 'POST',
    url: '/o/token/',
    payload: 'grant_type=client_credentials',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(ctx.confidentialId, ctx.confidentialSecret) }
  })
  t.equal(issued.statusCode, 200)
  const token = issued.json().access_token as string
  const first = await ctx.me(token)
  const again = await ctx.me(token)
  t.equal(store.lookups, 1, 'the second check was a hit')
  t.equal(again.statusCode, 200)
  t.same(again.json(), first.json())
  t.match(again.json(), { user: null, oauth: { user: null, clientId: ctx.confidentialId } })
})
