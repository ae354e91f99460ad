// The browser side of the demo: PKCE (RFC 7636) with Web Crypto, the redirect to /o/authorize/, and on the
// way back the code exchanged at /o/token/. Tokens stay in this page's memory; the verifier and state wait
// in sessionStorage for the round trip only.
const clientId = document.querySelector('main').dataset.clientId
const redirectUri = `${location.origin}/demo/`
const out = document.getElementById('out')
const show = (text) => { out.textContent = text }

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const random = (size) => base64url(crypto.getRandomValues(new Uint8Array(size)))

async function logIn () {
  const verifier = random(32)
  const state = random(16)
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)))
  sessionStorage.setItem('pkce', JSON.stringify({ verifier, state }))
  const url = new URL('/o/authorize/', location.origin)
  url.search = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'read',
    code_challenge: challenge, code_challenge_method: 'S256', state
  })
  location.assign(url)
}

async function comeBack (params) {
  const saved = JSON.parse(sessionStorage.getItem('pkce') ?? 'null')
  sessionStorage.removeItem('pkce')
  history.replaceState(null, '', redirectUri) // the code leaves the address bar and the history
  if (params.has('error')) return show(`The server said ${params.get('error')}: ${params.get('error_description')}`)
  if (saved === null || saved.state !== params.get('state')) return show('The state does not match: not our request.')
  const res = await fetch('/o/token/', {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectUri,
      code_verifier: saved.verifier, client_id: clientId
    })
  })
  const tokens = await res.json()
  if (!res.ok) return show(`The token endpoint said ${tokens.error}: ${tokens.error_description}`)
  const me = await (await fetch('/me', { headers: { authorization: `Bearer ${tokens.access_token}` } })).json()
  show(`Logged in as ${me.username} (scope "${tokens.scope}", the access token lives ${tokens.expires_in} s).`)
}

document.getElementById('sign-up').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  const res = await fetch('/sign_up/', { method: 'POST', body: new URLSearchParams(form) })
  const body = await res.json()
  show(res.ok ? `Signed up as ${body.username}: now log in.` : `Sign-up refused: ${body.error_description}`)
})
document.getElementById('log-in').addEventListener('click', () => { void logIn() })

const params = new URLSearchParams(location.search)
if (params.has('code') || params.has('error')) void comeBack(params)
