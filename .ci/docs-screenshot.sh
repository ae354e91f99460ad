#!/usr/bin/env bash
# Optional, not part of CI: starts the example server on a scratch SQLite file, opens /docs in headless
# Chromium (Debian: apt-get install chromium), checks the rendered page lists every route of the plugin
# with the token route's form body, and saves screenshots. Usage: .ci/docs-screenshot.sh [output-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-data/docs-screenshots}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "docs-screenshot: no chromium found (apt-get install chromium); skipped"
  exit 0
fi
scratch="$(mktemp -d "${TMPDIR:-/tmp}/oauth2-docs.XXXXXX")"
server_pid=""
cleanup () {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
port="${PORT:-3971}"
DATABASE_URL="sqlite:$scratch/db.sqlite" PORT="$port" LOG_LEVEL=warn npx tsx examples/server.ts >"$scratch/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if grep -q 'API docs' "$scratch/server.log" 2>/dev/null; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$scratch/server.log" >&2; exit 1; }
  sleep 0.2
done
grep -q 'API docs' "$scratch/server.log" || { cat "$scratch/server.log" >&2; echo "docs-screenshot: the server did not serve /docs" >&2; exit 1; }

base="http://127.0.0.1:$port/docs/"
chrome () {
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=8000 "$@" 2>/dev/null
}
dom="$(chrome --dump-dom "$base#/OAuth2/post_o_token_")"
for expected in '/o/token/' '/sign_up/' '/o/revoke_token/' '/o/introspect/' '/.well-known/oauth-authorization-server' \
  'application/x-www-form-urlencoded' 'grant_type' 'error_description'; do
  grep -qF "$expected" <<<"$dom" || { echo "docs-screenshot: the rendered /docs lacks \"$expected\"" >&2; exit 1; }
done
mkdir -p "$out"
chrome --window-size=1280,1000 --screenshot="$out/docs.png" "$base" >/dev/null
chrome --window-size=1280,3000 --screenshot="$out/token-route.png" "$base#/OAuth2/post_o_token_" >/dev/null
echo "docs-screenshot: /docs renders every route and the token route's form body; screenshots in $out/"
