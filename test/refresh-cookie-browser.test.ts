/**
 * A browser client in a real browser (Debian's Chromium, headless): a page on the client's registered origin
 * (a second server on another loopback port) logs in with fetch and a JSON body, reloads, refreshes through
 * the HttpOnly cookie and calls a protected route, never seeing the refresh token. A page on another origin
 * cannot refresh: CORS refuses its fetch, and the server refuses its form post (and the registered origin's
 * form post), rotating nothing.
 */
import cors from '@fastify/cors'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import t from 'tap'
import { hashToken } from '../lib/crypto/tokens.js'
import oauth2, { createClient, MemoryStore } from '../lib/index.js'
import { openBrowser } from './fixtures/chromium.js'

/** A tiny page server: an empty HTML page at `/`. */
async function pageServer (closeWith: (app: FastifyInstance) => void): Promise<string> {
  const app = Fastify({ forceCloseConnections: true })
  closeWith(app)
  app.get('/', async (_request, reply) => await reply.type('text/html').send('<!doctype html><title>SPA</title><p>SPA</p>'))
  return await app.listen({ host: '127.0.0.1', port: 0 })
}

interface Answer { status: number, body: Record<string, unknown> }

/** `fetch` from the page, with the browser's cookies; `null` when the browser refused it (CORS). */
async function fetchFrom (page: Page, url: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer | null> {
  return await page.evaluate(async ({ url, body, headers }) => {
    try {
      const res = await fetch(url, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
      return { status: res.status, body: await res.json() as Record<string, unknown> }
    } catch {
      return null
    }
  }, { url, body, headers })
}

/** Posts a plain HTML form from the page to `action` and waits for the answer page. */
async function formPost (page: Page, action: string, fields: Record<string, string>): Promise<string> {
  await Promise.all([
    page.waitForURL(action),
    page.evaluate(({ action, fields }) => {
      const doc = (globalThis as unknown as { document: { createElement: (tag: string) => any, body: { appendChild: (e: unknown) => void } } }).document
      const form = doc.createElement('form')
      form.method = 'POST'
      form.action = action
      for (const [name, value] of Object.entries(fields)) {
        const input = doc.createElement('input')
        input.name = name
        input.value = value
        form.appendChild(input)
      }
      doc.body.appendChild(form)
      form.submit()
    }, { action, fields })
  ])
  return await page.textContent('body') ?? ''
}

t.test('an SPA logs in, reloads, refreshes through the cookie; other origins and forms cannot', async (t) => {
  const browser = await openBrowser(t)
  if (browser === null) return
  const spa = await pageServer((app) => t.teardown(() => app.close()))
  const evil = await pageServer((app) => t.teardown(() => app.close()))
  const store = new MemoryStore()
  const app = Fastify({ forceCloseConnections: true })
  t.teardown(() => app.close())
  await app.register(oauth2, { store })
  // The app's own API allows its SPA by CORS (bearer tokens, no credentials): the app's business.
  await app.register(async (api) => {
    await api.register(cors, { origin: spa })
    api.get('/me', { onRequest: app.oauth2.authenticate() }, async (request) => request.user)
  })
  const server = await app.listen({ host: '127.0.0.1', port: 0 })
  const token = `${server}/o/token/`
  const { client } = await createClient(store, { name: 'SPA', type: 'public', refreshCookie: true, origins: [spa] })
  t.equal((await fetch(`${server}/sign_up/`, { method: 'POST', body: new URLSearchParams({ username: 'pony', password: 'djangsta-secret' }) })).status, 201)

  const page = await browser.newPage()
  await page.goto(spa)
  const login = await fetchFrom(page, token, { grant_type: 'password', username: 'pony', password: 'djangsta-secret', client_id: client.id })
  t.equal(login?.status, 200)
  t.equal(login?.body.refresh_token, undefined, 'the page never gets the refresh token')
  const [cookie, ...others] = await browser.cookies(token)
  t.same(others, [])
  t.match(cookie, { name: `oauth2_refresh_${client.id}`, path: '/o/token', httpOnly: true, sameSite: 'Strict' })

  await page.reload()
  t.equal(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie), '')
  const refreshed = await fetchFrom(page, token, { grant_type: 'refresh_token', client_id: client.id })
  t.equal(refreshed?.status, 200, 'after a reload, a refresh through the cookie')
  t.equal(refreshed?.body.refresh_token, undefined)
  const me = await page.evaluate(async ({ url, accessToken }) => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }, { url: `${server}/me`, accessToken: refreshed?.body.access_token as string })
  t.match(me, { status: 200, body: { username: 'pony' } })
  const current = (await browser.cookies(token))[0]?.value as string
  t.not(current, cookie?.value, 'rotated')
  // Even a page of the server's own origin, on the cookie's path, cannot read it.
  const sameOrigin = await browser.newPage()
  await sameOrigin.goto(token)
  t.equal(await sameOrigin.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie), '', 'HttpOnly')

  // Another origin: the browser refuses its fetch (no CORS answer for it)…
  const other = await browser.newPage()
  await other.goto(evil)
  t.equal(await fetchFrom(other, token, { grant_type: 'refresh_token', client_id: client.id }), null, 'CORS refuses another origin')
  // …and its form post (the same site: the browser sends the SameSite=Strict cookie) is refused by the server.
  const fromEvil = await formPost(other, token, { grant_type: 'refresh_token', client_id: client.id })
  t.match(JSON.parse(fromEvil), { error: 'invalid_request', error_description: /registered origins/ })
  // …nor log the user out: its form post to the revocation route is refused, and the cookie stays.
  await other.goto(evil)
  const logoutFromEvil = await formPost(other, `${server}/o/revoke_token/`, { token: 'a-guess', client_id: client.id })
  t.match(JSON.parse(logoutFromEvil), { error: 'invalid_request', error_description: /registered origins/ })
  t.equal((await browser.cookies(token))[0]?.value, current, 'another origin\'s form cannot clear the cookie')
  // A form post from the registered origin itself is refused too: not JSON.
  await page.goto(spa)
  const fromSpa = await formPost(page, token, { grant_type: 'refresh_token', client_id: client.id })
  t.match(JSON.parse(fromSpa), { error: 'invalid_request', error_description: /application\/json/ })
  t.equal((await browser.cookies(token))[0]?.value, current, 'the cookie is unchanged')
  t.equal((await store.findByRefreshTokenHash(hashToken(current)))?.rotatedAt, null, 'nothing rotated')

  // Logout: revoking the access token ends the login and clears the cookie.
  await page.goto(spa)
  const revoked = await fetchFrom(page, `${server}/o/revoke_token/`, { token: refreshed?.body.access_token as string, client_id: client.id })
  t.equal(revoked?.status, 200)
  t.same(await browser.cookies(token), [], 'the cookie is gone')
  t.equal((await fetchFrom(page, token, { grant_type: 'refresh_token', client_id: client.id }))?.status, 400, 'no refresh after logout')
})
