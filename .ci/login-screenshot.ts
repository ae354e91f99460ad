/**
 * Optional, not part of CI: renders the authorization endpoint's login page (the example app, an in-memory
 * store, the browser demo's client) in Debian's headless Chromium and saves docs/login-page.png.
 * Usage: npx tsx .ci/login-screenshot.ts [output.png]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { buildExampleApp } from '../examples/app.js'
import { registerBrowserDemo } from '../examples/browser-demo.js'
import { MemoryStore } from '../lib/index.js'

const output = process.argv[2] ?? 'docs/login-page.png'
const port = 3972
const store = new MemoryStore()
const { app } = await buildExampleApp(store, {}, { forceCloseConnections: true })
const clientId = await registerBrowserDemo(app, store, `http://127.0.0.1:${port}`)
await app.listen({ host: '127.0.0.1', port })
const profile = mkdtempSync(join(tmpdir(), 'oauth2-screenshot-'))
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 720, height: 560 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--hide-scrollbars']
})
try {
  const page = await browser.newPage()
  const query = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: `http://127.0.0.1:${port}/demo/`, state: 'demo',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256'
  })
  await page.goto(`http://127.0.0.1:${port}/o/authorize/?${query.toString()}`)
  await page.screenshot({ path: output })
  console.log(`login-screenshot: ${output}`)
} finally {
  await browser.close()
  await app.close()
  rmSync(profile, { recursive: true, force: true })
}
