/** `POST /sign_up/`: normalized unique usernames, password policy, argon2id with pinned parameters. */
import t from 'tap'
import { buildApp } from './fixtures/app.js'

t.test('JSON sign-up: 201 {id, username}, never the password; argon2id with the OWASP parameters', async (t) => {
  const ctx = await buildApp(t)
  const res = await ctx.signUp('django.pony', 'djangsta-secret')
  t.equal(res.statusCode, 201)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['id', 'username'])
  t.equal(body.username, 'django.pony')
  t.notMatch(res.body, 'djangsta-secret')

  const user = await ctx.store.findUserById(body.id)
  t.ok(user)
  t.notMatch(JSON.stringify(user), 'djangsta-secret', 'no plaintext password stored')
  // $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
  const [, algorithm, version, params, salt, hash] = user!.passwordHash.split('$')
  t.equal(algorithm, 'argon2id')
  t.equal(version, 'v=19')
  t.equal(params, 'm=19456,t=2,p=1')
  t.equal(Buffer.from(salt!, 'base64').length, 16, '128-bit salt')
  t.equal(Buffer.from(hash!, 'base64').length, 32, '256-bit hash')
})

t.test('form sign-up works, and the path answers without its trailing slash', async (t) => {
  const ctx = await buildApp(t)
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/sign_up',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'username=form.pony&password=djangsta-secret'
  })
  t.equal(res.statusCode, 201)
  t.equal(res.json().username, 'form.pony')
})

t.test('usernames are NFKC-normalized and unique case-insensitively; a duplicate changes nothing', async (t) => {
  const ctx = await buildApp(t)
  const first = await ctx.signUp('Ｐｏｎｙ', 'djangsta-secret')
  t.equal(first.statusCode, 201)
  t.equal(first.json().username, 'Pony', 'fullwidth folded by NFKC')
  for (const name of ['pony', 'PONY', 'Ｐｏｎｙ']) {
    const dup = await ctx.signUp(name, 'another-password')
    t.equal(dup.statusCode, 400, name)
    t.same(dup.json(), { error: 'invalid_request', error_description: 'A user with that username already exists.' })
  }
  t.equal((await ctx.login('pony', 'djangsta-secret')).statusCode, 200, 'the first password still logs in')
  t.equal((await ctx.login('pony', 'another-password')).statusCode, 400)
})

t.test('20 concurrent sign-ups of one name give one user, whose password is the winner\'s', async (t) => {
  const ctx = await buildApp(t)
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ctx.signUp('race', `password-${i}`)))
  const created = results.filter((r) => r.statusCode === 201)
  t.equal(created.length, 1)
  t.ok(results.every((r) => r.statusCode === 201 || r.statusCode === 400), 'no 5xx')
  const winner = results.indexOf(created[0]!)
  t.equal((await ctx.login('race', `password-${winner}`)).statusCode, 200)
  t.equal((await ctx.login('race', `password-${(winner + 1) % 20}`)).statusCode, 400)
})

t.test('refused usernames and passwords: 400 invalid_request, nothing stored', async (t) => {
  const ctx = await buildApp(t, { passwordPolicy: { maxLength: 64 } })
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing both', {}, /missing username/],
    ['missing password', { username: 'a' }, /missing password/],
    ['missing username', { password: 'djangsta-secret' }, /missing username/],
    ['blank username', { username: '', password: 'djangsta-secret' }, /may not be blank/],
    ['space and slash', { username: 'a b/c', password: 'djangsta-secret' }, /letters, numbers/],
    ['control character', { username: 'pony\u0000', password: 'djangsta-secret' }, /letters, numbers/],
    ['151 characters', { username: 'a'.repeat(151), password: 'djangsta-secret' }, /at most 150/],
    ['short password', { username: 'shorty', password: 'seven77' }, /at least 8/],
    ['long password', { username: 'longy', password: 'x'.repeat(65) }, /at most 64/],
    ['null fields (coerced to empty strings)', { username: null, password: null }, /may not be blank/],
    ['object field', { username: { a: 1 }, password: 'djangsta-secret' }, /Invalid parameter/]
  ]
  for (const [name, payload, description] of cases) {
    const res = await ctx.app.inject({ method: 'POST', url: '/sign_up/', payload: payload as object })
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().error, 'invalid_request', name)
    t.match(res.json().error_description, description, name)
  }
  for (const key of ['a', 'shorty', 'longy', 'pony\u0000', 'a b/c']) {
    t.equal(await ctx.store.findUserByUsernameKey(key), null)
  }
})

t.test('numbers are accepted as strings, as Django REST Framework does', async (t) => {
  const ctx = await buildApp(t)
  const res = await ctx.app.inject({ method: 'POST', url: '/sign_up/', payload: { username: 12345, password: 12345678 } })
  t.equal(res.statusCode, 201)
  t.equal(res.json().username, '12345')
})

t.test('the app\'s own password rule runs after the length checks and can refuse', async (t) => {
  const seen: Array<[string, string]> = []
  const ctx = await buildApp(t, {
    passwordPolicy: {
      validate: async (password, { username }) => {
        seen.push([password, username])
        return password.toLowerCase().includes(username.toLowerCase()) ? 'The password may not contain the username.' : undefined
      }
    }
  })
  const refused = await ctx.signUp('Pony', 'my-pony-password')
  t.equal(refused.statusCode, 400)
  t.equal(refused.json().error_description, 'The password may not contain the username.')
  t.equal((await ctx.signUp('Pony', 'djangsta-secret')).statusCode, 201)
  t.equal((await ctx.signUp('other', 'short')).statusCode, 400)
  t.same(seen, [['my-pony-password', 'Pony'], ['djangsta-secret', 'Pony']], 'not called for a too-short password')
})

t.test('sign-up can be turned off or moved', async (t) => {
  const off = await buildApp(t, { routes: { signUp: false } })
  t.equal((await off.signUp('pony', 'djangsta-secret')).statusCode, 404)
  const moved = await buildApp(t, { routes: { signUp: '/accounts/register' } })
  const res = await moved.app.inject({ method: 'POST', url: '/accounts/register/', payload: { username: 'pony', password: 'djangsta-secret' } })
  t.equal(res.statusCode, 201)
})
