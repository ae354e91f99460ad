/** The CLI: migrate, client create/list/delete/rotate-secret, tokens clear; errors and help. */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { runCli } from '../lib/cli/cli.js'
import { hashToken } from '../lib/crypto/tokens.js'
import { KyselyStore, openDatabase } from '../lib/index.js'
import { makeCode, makeToken, makeUser } from './fixtures/store-contract.js'

interface Run { code: number, out: string, err: string }

async function cli (...argv: string[]): Promise<Run> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: {} })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

function tempDb (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return `sqlite:${join(dir, 'db.sqlite')}`
}

t.test('migrate, then create a confidential client with --json: one object, secret stored hashed', async (t) => {
  const db = tempDb(t)
  t.same(await cli('--db', db, 'migrate'), { code: 0, out: 'migrations are up to date', err: '' })
  t.equal((await cli('--db', db, 'migrate')).code, 0, 'migrate is idempotent')
  const created = await cli('--db', db, 'client', 'create', '--name', 'backend', '--type', 'confidential',
    '--grant', 'password', '--grant', 'refresh_token', '--scope', 'read', '--json')
  t.equal(created.code, 0, created.err)
  const body = JSON.parse(created.out)
  t.same(Object.keys(body), ['client_id', 'client_secret'])
  t.match(body.client_secret, /^[A-Za-z0-9_-]{43}$/)

  const { db: kysely } = await openDatabase(db)
  t.teardown(() => kysely.destroy())
  const store = new KyselyStore({ db: kysely })
  const stored = await store.findClient(body.client_id)
  t.match(stored, { name: 'backend', type: 'confidential', grants: ['password', 'refresh_token'], scopes: ['read'] })
  t.equal(stored!.secretHash, hashToken(body.client_secret))

  const list = await cli('--db', db, 'client', 'list', '--json')
  const listed = JSON.parse(list.out).clients
  t.equal(listed.length, 1)
  t.match(listed[0], { client_id: body.client_id, name: 'backend', type: 'confidential' })
  t.notMatch(list.out, body.client_secret, 'list never shows a secret')
  t.notMatch(list.out, stored!.secretHash!, 'nor its hash')
  t.match((await cli('--db', db, 'client', 'list')).out, new RegExp(`${body.client_id} +confidential +backend +grants=password,refresh_token +scopes=read`))

  const rotated = await cli('--db', db, 'client', 'rotate-secret', body.client_id, '--json')
  t.equal(rotated.code, 0, rotated.err)
  const newSecret = JSON.parse(rotated.out).client_secret
  t.not(newSecret, body.client_secret)
  t.equal((await store.findClient(body.client_id))!.secretHash, hashToken(newSecret))
  t.match((await cli('--db', db, 'client', 'rotate-secret', body.client_id)).out, /^client_secret: /)

  t.equal((await cli('--db', db, 'client', 'delete', body.client_id)).code, 0)
  t.equal(await store.findClient(body.client_id), null)
  t.match((await cli('--db', db, 'client', 'list')).out, 'no clients')
})

t.test('client create without --json prints the id (and the secret once); public clients have none', async (t) => {
  const db = tempDb(t)
  await cli('--db', db, 'migrate')
  const pub = await cli('--db', db, 'client', 'create', '--name', 'spa', '--type', 'public')
  t.match(pub.out, /^client_id: \S{24}$/)
  t.match((await cli('--db', db, 'client', 'list')).out, /scopes=all/)
  const conf = await cli('--db', db, 'client', 'create', '--name', 'svc', '--type', 'confidential', '--grant', 'client_credentials')
  t.match(conf.out, /client_secret: \S{43}\nStore the secret now/)
  const pubJson = JSON.parse((await cli('--db', db, 'client', 'create', '--name', 'ios', '--type', 'public', '--json')).out)
  t.equal(pubJson.client_secret, null)
})

t.test('client create --grant authorization_code --redirect-uri … [--consent], shown by client list', async (t) => {
  const db = tempDb(t)
  await cli('--db', db, 'migrate')
  const created = await cli('--db', db, 'client', 'create', '--name', 'web', '--type', 'public', '--grant', 'authorization_code',
    '--grant', 'refresh_token', '--redirect-uri', 'https://app.example/cb', '--redirect-uri', 'http://127.0.0.1:5173/cb', '--consent', '--json')
  t.equal(created.code, 0, created.err)
  const { client_id: id } = JSON.parse(created.out)
  const listed = JSON.parse((await cli('--db', db, 'client', 'list', '--json')).out).clients
  t.match(listed[0], { client_id: id, grants: ['authorization_code', 'refresh_token'], redirect_uris: ['https://app.example/cb', 'http://127.0.0.1:5173/cb'], require_consent: true })
  t.match((await cli('--db', db, 'client', 'list')).out,
    new RegExp(`${id} +public +web +grants=authorization_code,refresh_token +scopes=all +redirect_uris=https://app.example/cb,http://127.0.0.1:5173/cb +consent$`))
  const missing = await cli('--db', db, 'client', 'create', '--name', 'web', '--type', 'public', '--grant', 'authorization_code')
  t.equal(missing.code, 2)
  t.match(missing.err, /the authorization_code grant needs at least one redirect URI/)
  const bad = await cli('--db', db, 'client', 'create', '--name', 'web', '--type', 'public', '--grant', 'authorization_code', '--redirect-uri', 'http://evil.example/cb')
  t.equal(bad.code, 2)
  t.match(bad.err, /must be https, http on a loopback host/)
})

t.test('client create --refresh-cookie --origin …: a browser client, shown by client list', async (t) => {
  const db = tempDb(t)
  await cli('--db', db, 'migrate')
  const created = await cli('--db', db, 'client', 'create', '--name', 'spa', '--type', 'public', '--refresh-cookie',
    '--origin', 'https://app.example', '--origin', 'http://127.0.0.1:5173', '--json')
  t.equal(created.code, 0, created.err)
  const { client_id: id } = JSON.parse(created.out)
  const listed = JSON.parse((await cli('--db', db, 'client', 'list', '--json')).out).clients
  t.match(listed[0], { client_id: id, refresh_cookie: true, origins: ['https://app.example', 'http://127.0.0.1:5173'] })
  t.match((await cli('--db', db, 'client', 'list')).out,
    new RegExp(`${id} +public +spa +grants=password,refresh_token +scopes=all +refresh_cookie origins=https://app.example,http://127.0.0.1:5173$`))
  const noOrigin = await cli('--db', db, 'client', 'create', '--name', 'spa', '--type', 'public', '--refresh-cookie')
  t.equal(noOrigin.code, 2)
  t.match(noOrigin.err, /refreshCookie needs at least one origin/)
  const withPath = await cli('--db', db, 'client', 'create', '--name', 'spa', '--type', 'public', '--refresh-cookie', '--origin', 'https://app.example/spa')
  t.equal(withPath.code, 2)
  t.match(withPath.err, /must be exactly scheme:\/\/host\[:port\]/)
})

t.test('tokens clear deletes expired token records in batches and keeps live ones', async (t) => {
  const db = tempDb(t)
  await cli('--db', db, 'migrate')
  const { db: kysely } = await openDatabase(db)
  t.teardown(() => kysely.destroy())
  const store = new KyselyStore({ db: kysely })
  const created = JSON.parse((await cli('--db', db, 'client', 'create', '--name', 'spa', '--type', 'public', '--json')).out)
  const user = makeUser('pony')
  await store.createUser(user)
  const past = Date.now() - 1000
  for (let i = 0; i < 1005; i++) {
    await store.createToken(makeToken(created.client_id, user.id, { accessExpiresAt: past, refreshExpiresAt: past }))
  }
  const live = makeToken(created.client_id, user.id, { accessExpiresAt: Date.now() + 3_600_000, refreshExpiresAt: Date.now() + 3_600_000 })
  await store.createToken(live)
  await store.hitThrottle('ended', 1000, Date.now() - 5000)
  await store.hitThrottle('live', 60_000, Date.now())
  const liveCode = makeCode(created.client_id, user.id, { expiresAt: Date.now() + 60_000 })
  await store.createAuthorizationCode(liveCode)
  await store.createAuthorizationCode(makeCode(created.client_id, user.id, { expiresAt: past }))
  await store.createSession({ idHash: 'ended', userId: user.id, createdAt: past, expiresAt: past })
  await store.createSession({ idHash: 'live', userId: user.id, createdAt: past, expiresAt: Date.now() + 60_000 })
  t.same(await cli('--db', db, 'tokens', 'clear'), {
    code: 0,
    out: 'deleted 1005 expired token record(s) and 1 expired throttle counter(s)\ndeleted 2 expired authorization code(s) and session(s)',
    err: ''
  })
  t.equal((await store.getThrottle('live', Date.now()))?.count, 1)
  t.not(await store.findByAccessTokenHash(live.accessTokenHash), null)
  t.not(await store.findAuthorizationCode(liveCode.codeHash), null)
  t.not(await store.findSession('live'), null)
  t.equal(await store.findSession('ended'), null)
})

t.test('usage errors exit 2 with a message and the help', async (t) => {
  const db = tempDb(t)
  await cli('--db', db, 'migrate')
  const cases: Array<[string[], RegExp]> = [
    [[], /no command/],
    [['--db', db], /no command/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--nope'], /Unknown option '--nope'/],
    [['migrate'], /no database/],
    [['--db', 'mysql://root:hunter2@db/x', 'migrate'], /Unsupported database URL "mysql:\/\/root:\*\*\*@db\/x"/],
    [['--db', db, 'migrate', 'extra'], /migrate takes no arguments/],
    [['--db', db, 'client', 'create', '--type', 'public'], /--name is required/],
    [['--db', db, 'client', 'create', '--name', 'x', '--type', 'secret'], /--type must be/],
    [['--db', db, 'client', 'create', '--name', 'x', '--type', 'public', '--grant', 'client_credentials'], /confidential clients only/],
    [['--db', db, 'client', 'create', '--name', 'x', '--type', 'public', 'extra'], /options only/],
    [['--db', db, 'client', 'list', 'extra'], /no arguments/],
    [['--db', db, 'client', 'delete'], /exactly one client_id/],
    [['--db', db, 'client', 'rotate-secret'], /exactly one client_id/],
    [['--db', db, 'tokens', 'clear', 'now'], /no arguments/]
  ]
  for (const [argv, message] of cases) {
    const run = await cli(...argv)
    t.equal(run.code, 2, argv.join(' '))
    t.match(run.err, message, argv.join(' '))
    t.notMatch(run.err, 'hunter2')
  }
})

t.test('an unknown client, a missing table and an unreachable database exit 1 with a clear message', async (t) => {
  const db = tempDb(t)
  await cli('--db', db, 'migrate')
  t.match(await cli('--db', db, 'client', 'delete', 'nope'), { code: 1, err: /no client with id "nope"/ })
  t.match(await cli('--db', db, 'client', 'rotate-secret', 'nope'), { code: 1, err: /no confidential client with id "nope"/ })
  const fresh = tempDb(t)
  t.match(await cli('--db', fresh, 'client', 'list'), { code: 1, err: /tables are missing .* run "fastify-oauth2-server migrate/ })
  t.match(await cli('--db', fresh, 'client', 'create', '--name', 'x', '--type', 'public'), { code: 1, err: /tables are missing/ })
  const down = await cli('--db', 'postgres://app:hunter2@127.0.0.1:9/app', 'client', 'list')
  t.equal(down.code, 1)
  t.match(down.err, /cannot use the database postgres:\/\/app:\*\*\*@127\.0\.0\.1:9\/app/)
  t.notMatch(down.err, 'hunter2')
  const odd = await cli('--db', db, '--table-prefix', 'bad-prefix', 'client', 'list')
  t.equal(odd.code, 1)
  t.match(odd.err, /tablePrefix/)
})

t.test('--help for the CLI and for each command', async (t) => {
  t.match(await cli('--help'), { code: 0, out: /Usage: fastify-oauth2-server \[--db <url>\] <command>/ })
  for (const command of [['migrate'], ['client', 'create'], ['client', 'list'], ['client', 'delete'], ['client', 'rotate-secret'], ['tokens', 'clear']]) {
    const run = await cli(...command, '--help')
    t.equal(run.code, 0)
    t.match(run.out, `Usage: fastify-oauth2-server ${command.join(' ')}`)
  }
})

t.test('the bin runs as a program (npm run cli)', async (t) => {
  const db = tempDb(t)
  // Through a shell, outside tap's coverage tracking (which wraps node children): tsx compiles the file
  // differently from tap's loader, and merging the two would misplace line counts. The commands
  // themselves are covered in-process above.
  const { NODE_V8_COVERAGE: _coverage, ...rest } = process.env
  const env = { ...rest, NODE_OPTIONS: '' }
  const run = (file: string, args: string[]) =>
    promisify(execFile)('/bin/sh', ['-c', 'unset NODE_OPTIONS NODE_V8_COVERAGE; exec "$0" "$@"', file, ...args], { env })
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'lib/cli/index.ts', '--db', db, 'migrate'])
  t.equal(stdout, 'migrations are up to date\n')
  const failed = await run(process.execPath, ['--import', 'tsx', 'lib/cli/index.ts', 'bogus']).catch((e: { code: number, stderr: string }) => e)
  t.match(failed, { code: 2, stderr: /unknown command "bogus"/ })
})

t.test('client rotate-secret: tokens stay valid and it says so; --revoke-tokens ends them', async (t) => {
  const db = tempDb(t)
  await cli('--db', db, 'migrate')
  const { client_id: id } = JSON.parse((await cli('--db', db, 'client', 'create', '--name', 'svc', '--type', 'confidential',
    '--grant', 'client_credentials', '--json')).out)
  const { db: kysely } = await openDatabase(db)
  t.teardown(() => kysely.destroy())
  const store = new KyselyStore({ db: kysely })
  for (const n of [1, 2]) {
    await store.createToken(makeToken(id, null, { accessTokenHash: hashToken(`access-${n}`), accessExpiresAt: Date.now() + 3_600_000 }))
  }

  const plain = await cli('--db', db, 'client', 'rotate-secret', id)
  t.match(plain.out, /Tokens issued with the old secret stay valid until they expire \(--revoke-tokens ends them\)\./)
  t.equal((await store.findByAccessTokenHash(hashToken('access-1')))?.token.revokedAt, null, 'still valid')

  const revoking = await cli('--db', db, 'client', 'rotate-secret', id, '--revoke-tokens', '--json')
  t.equal(revoking.code, 0, revoking.err)
  t.match(JSON.parse(revoking.out), { client_id: id, client_secret: /^[A-Za-z0-9_-]{43}$/, revoked_tokens: 2 })
  for (const n of [1, 2]) t.not((await store.findByAccessTokenHash(hashToken(`access-${n}`)))?.token.revokedAt, null)
  t.match((await cli('--db', db, 'client', 'rotate-secret', id, '--revoke-tokens')).out, /Revoked 0 token record\(s\)/)
})

t.test('client create --scope "": refused (it would be stored as "every scope"), nothing stored', async (t) => {
  const db = tempDb(t)
  await cli('--db', db, 'migrate')
  for (const scope of ['', 'a b', 'quo"te']) {
    const res = await cli('--db', db, 'client', 'create', '--name', 'x', '--type', 'public', '--scope', 'read', '--scope', scope)
    t.equal(res.code, 2, JSON.stringify(scope))
    t.match(res.err, /is not a scope token/)
  }
  t.match((await cli('--db', db, 'client', 'list')).out, 'no clients')
})
