/**
 * The whole browser flow in a real browser (Debian's Chromium, headless): openid-client discovers the
 * server and builds the authorization URL with PKCE; the browser opens it, the user fills in the login
 * form and lands on the redirect URI with a code; openid-client exchanges it and calls a protected route.
 * The pages break no Content-Security-Policy rule, and a second visit goes straight back (the session).
 */
import { createServer, type AddressInfo } from 'node:net'
import Fastify from 'fastify'
import * as client from 'openid-client'
import t from 'tap'
import oauth2, { createClient, MemoryStore } from '../lib/index.js'
import { buildExampleApp } from '../examples/app.js'
import { demoRedirectUris, registerBrowserDemo } from '../examples/browser-demo.js'
import { openBrowser } from './fixtures/chromium.js'

t.test('authorization code with PKCE, from the login form to a protected route', async (t) => {
  const browser = await openBrowser(t)
  if (browser === null) return
  const store = new MemoryStore()
  // The browser keeps connections alive: close them with the app rather than wait out their timeout.
  const app = Fastify({ forceCloseConnections: true })
  t.teardown(() => app.close())
  await app.register(oauth2, { store })
  app.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => request.user)
  app.get('/callback', async () => 'back at the client')
  const origin = await app.listen({ host: '127.0.0.1', port: 0 })
  const redirectUri = `${origin}/callback`
  const { client: registered } = await createClient(store, {
    name: 'Browser test app', type: 'public', grants: ['authorization_code', 'refresh_token'], redirectUris: [redirectUri]
  })
  const signUp = await fetch(`${origin}/sign_up/`, { method: 'POST', body: new URLSearchParams({ username: 'pony', password: 'djangsta-secret' }) })
  t.equal(signUp.status, 201)

  const config = await client.discovery(new URL(origin), registered.id, undefined, undefined, {
    algorithm: 'oauth2', execute: [client.allowInsecureRequests]
  })
  t.equal(config.serverMetadata().authorization_endpoint, `${origin}/o/authorize/`)
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state
  })

  const page = await browser.newPage()
  const violations: string[] = []
  page.on('console', (message) => { if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text()) })
  await page.goto(authorizationUrl.href)
  t.equal(await page.title(), 'Log in')
  t.equal(await page.getByLabel('Username').count(), 1, 'the inputs are labelled')
  t.equal(await page.getByText('The username or password is incorrect.').count(), 0)
  t.not(await page.locator('button').evaluate((b) => (globalThis as unknown as { getComputedStyle: (e: unknown) => { backgroundColor: string } }).getComputedStyle(b).backgroundColor), 'rgba(0, 0, 0, 0)', 'the stylesheet applies')

  await page.getByLabel('Username').fill('pony')
  await page.getByLabel('Password').fill('wrong-password')
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByText('The username or password is incorrect.').waitFor()
  t.equal(await page.getByLabel('Username').inputValue(), 'pony', 'a wrong password: the page again, the username kept')

  await page.getByLabel('Password').fill('djangsta-secret')
  await Promise.all([page.waitForURL((url) => url.href.startsWith(redirectUri)), page.getByRole('button', { name: 'Log in' }).click()])
  t.match(await page.textContent('body'), /back at the client/)
  const landed = new URL(page.url())
  t.equal(landed.searchParams.get('state'), state)

  const tokens = await client.authorizationCodeGrant(config, landed, { pkceCodeVerifier: verifier, expectedState: state })
  t.equal(tokens.scope, 'read')
  t.ok(tokens.refresh_token)
  const me = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${origin}/me`), 'GET')
  t.equal(me.status, 200)
  t.match(await me.json(), { username: 'pony' })

  // The session: the next authorization request goes straight back, without the login page.
  const again = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256', state: 'again'
  })
  await page.goto(again.href)
  t.equal(new URL(page.url()).searchParams.get('state'), 'again')
  t.ok(new URL(page.url()).searchParams.get('code'))
  t.same(violations, [], 'no Content-Security-Policy violation')
})

t.test('the example\'s browser demo: sign up, log in on the page, back on the demo logged in', async (t) => {
  const browser = await openBrowser(t)
  if (browser === null) return
  // The demo registers its redirect URI on the server's origin before listening: take a free port first.
  const port = await freePort()
  const store = new MemoryStore()
  const { app } = await buildExampleApp(store, {}, { forceCloseConnections: true })
  t.teardown(() => app.close())
  const clientId = await registerBrowserDemo(app, store, `http://127.0.0.1:${port}`)
  t.equal(await registerBrowserDemo(Fastify(), store, `http://127.0.0.1:${port}`), clientId, 'a restart finds its client')
  await app.listen({ host: '127.0.0.1', port })
  t.same(demoRedirectUris('https://demo.example'), ['https://demo.example/demo/'])

  const page = await browser.newPage()
  const violations: string[] = []
  page.on('console', (message) => { if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text()) })
  const demo = await page.goto(`http://127.0.0.1:${port}/demo/`)
  t.match(demo?.headers()['content-security-policy'], /script-src 'self'/)
  await page.getByLabel('Username').fill('pony')
  await page.getByLabel('Password (8 characters or more)').fill('djangsta-secret')
  await page.getByRole('button', { name: 'Sign up' }).click()
  await page.getByText('Signed up as pony: now log in.').waitFor()
  await page.getByRole('button', { name: 'Log in with the authorization server' }).click()
  await page.waitForURL(/\/o\/authorize\//)
  t.equal(await page.title(), 'Log in')
  await page.getByLabel('Username').fill('pony')
  await page.getByLabel('Password').fill('djangsta-secret')
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByText(/Logged in as pony \(scope "read"/).waitFor()
  t.equal(page.url(), `http://127.0.0.1:${port}/demo/`, 'the code left the address bar')
  t.same(violations, [], 'no Content-Security-Policy violation')
})

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
