/**
 * The authorization endpoint's pages: server-rendered HTML, no script, one stylesheet in a `<style>`
 * element allowed by a nonce. Every value is escaped. An app replaces the login and consent pages with the
 * `pages` option; the error and logged-out pages are the plugin's.
 */
import { escapeHtml as e } from './escape.js'

/** What every form page gets. */
export interface FormPageView {
  /** Where the form posts (the authorization request's own URL). Escape it into the `action` attribute. */
  action: string
  /** The name of the hidden input that must carry `csrfToken`: `csrf_token`. */
  csrfField: string
  /** The CSRF token: the form must post it back, or the plugin refuses the post. */
  csrfToken: string
  /** The client the user is logging in to (its registered name). */
  clientName: string
  /** The nonce of this response's Content-Security-Policy: a `<style>` element needs it as its `nonce`. */
  styleNonce: string
}

/** The login page's view. */
export interface LoginPageView extends FormPageView {
  /** The username to refill after a refused attempt, or `''`. */
  username: string
  /** The message to show (a refused attempt, too many attempts), or `null`. */
  error: string | null
}

/** The consent page's view. */
export interface ConsentPageView extends FormPageView {
  /** The scopes the client asks for. */
  scopes: string[]
}

/** The stylesheet of the plugin's pages. */
const STYLE = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f3f4f6;
  font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827}
main{width:100%;max-width:22rem;margin:1rem;padding:2rem;background:#fff;border-radius:.75rem;
  box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{margin:0 0 .25rem;font-size:1.5rem}
p{margin:0 0 1rem;color:#4b5563}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{width:100%;padding:.6rem .75rem;border:1px solid #9ca3af;border-radius:.5rem;font:inherit}
input:focus,button:focus{outline:3px solid #93c5fd;outline-offset:1px}
button{width:100%;margin-top:1.25rem;padding:.65rem;border:0;border-radius:.5rem;background:#1d4ed8;color:#fff;
  font:inherit;font-weight:600;cursor:pointer}
button.secondary{background:#e5e7eb;color:#111827;margin-top:.5rem}
.error{padding:.6rem .75rem;border-radius:.5rem;background:#fee2e2;color:#991b1b}
ul{margin:0 0 1rem;padding-left:1.25rem}
code{font-size:.9em}
`.trim()

function layout (title: string, nonce: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${e(title)}</title>
<style nonce="${e(nonce)}">${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`
}

function csrfInput (view: FormPageView): string {
  return `<input type="hidden" name="${e(view.csrfField)}" value="${e(view.csrfToken)}">`
}

/** The plugin's login page. */
export function loginPage (view: LoginPageView): string {
  const error = view.error === null ? '' : `<p class="error" id="login-error" role="alert">${e(view.error)}</p>\n`
  const described = view.error === null ? '' : ' aria-describedby="login-error"'
  return layout('Log in', view.styleNonce, `<h1>Log in</h1>
<p>to continue to <strong>${e(view.clientName)}</strong></p>
${error}<form method="post" action="${e(view.action)}">
${csrfInput(view)}
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${e(view.username)}"${described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${described}>
<button type="submit">Log in</button>
</form>`)
}

/** The plugin's consent page. */
export function consentPage (view: ConsentPageView): string {
  const scopes = view.scopes.map((scope) => `<li><code>${e(scope)}</code></li>`).join('')
  return layout('Allow access?', view.styleNonce, `<h1>Allow access?</h1>
<p><strong>${e(view.clientName)}</strong> asks to use your account with these scopes:</p>
<ul>${scopes}</ul>
<form method="post" action="${e(view.action)}">
${csrfInput(view)}
<button type="submit" name="consent" value="approve">Allow</button>
<button type="submit" name="consent" value="deny" class="secondary">Deny</button>
</form>`)
}

/** A page that ends the flow here: a refused request that cannot go back to the client, or an outage. */
export function errorPage (nonce: string, error: string, description: string): string {
  return layout('Cannot continue', nonce, `<h1>Cannot continue</h1>
<p class="error" role="alert">${e(description)}</p>
<p>Error: <code>${e(error)}</code></p>`)
}

/** The page after logging out. */
export function loggedOutPage (nonce: string): string {
  return layout('Logged out', nonce, `<h1>Logged out</h1>
<p>You are logged out of this server.</p>`)
}
