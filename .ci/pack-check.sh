#!/usr/bin/env bash
# The packaging check: what a user installs is what we test. Packs the package (`npm pack`, which builds
# dist/ first through `prepack`), installs the tarball into a fresh app in a temporary directory outside
# the repository (its other dependencies from the npm registry), compiles test/package-consumer/ there with
# tsc against the published types (the testing kit's too: testing-kit.ts), runs it, and walks the seed's
# flow over HTTP: sign up, token, /me, refresh. Then the CLI bin from the installed package, and README's
# "Testing your app" snippets (test/package-consumer/readme/) compiled against the published types and run
# with tap and `node --test`. Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

fail () {
  echo "pack-check: FAIL: $*" >&2
  exit 1
}
step () {
  echo "pack-check: $*"
}

scratch="$(mktemp -d "${TMPDIR:-/tmp}/oauth2-pack-check.XXXXXX")"
server_pid=""
cleanup () {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# 1. Pack: prepack builds dist/ from scratch.
step "npm pack"
tarball_name="$(npm pack --silent --pack-destination "$scratch")" || fail "npm pack (and the build it runs first) failed"
tarball_name="$(tail -n 1 <<<"$tarball_name")"
tarball="$scratch/$tarball_name"
[ -f "$tarball" ] || fail "npm pack produced no tarball"
listing="$(tar -tzf "$tarball")"
for required in package/package.json package/README.md package/CHANGELOG.md package/LICENSE package/dist/index.js \
  package/dist/index.d.ts package/dist/types.d.ts package/dist/cli/index.js; do
  grep -qx "$required" <<<"$listing" || fail "the tarball lacks $required"
done
if grep -E '^package/(lib|test|examples|\.ci|\.tap|data|node_modules)/' <<<"$listing"; then
  fail "the tarball carries files that are not meant to be published (above)"
fi
if grep -E '\.map$' <<<"$listing"; then
  fail "the tarball carries source maps (above): they point at lib/, which is not published"
fi
head -n 1 "$repo/dist/cli/index.js" | grep -qx '#!/usr/bin/env node' || fail "dist/cli/index.js has no node shebang"
step "$tarball_name: $(wc -l <<<"$listing") files"

# 2. A fresh app: the tarball, and the consumer's own dependencies in the versions this repo tests with.
app="$scratch/app"
mkdir "$app"
cp "$repo"/test/package-consumer/*.ts "$repo"/test/package-consumer/tsconfig.json "$app/"
cp -r "$repo"/test/package-consumer/readme "$app/readme"
range () {
  node -e 'const p = require(process.argv[1]); console.log(p.devDependencies[process.argv[2]])' "$repo/package.json" "$1"
}
cat >"$app/package.json" <<JSON
{ "name": "oauth2-pack-check-app", "version": "1.0.0", "private": true, "type": "module" }
JSON
step "npm install into $app"
(cd "$app" && npm install --no-audit --no-fund --loglevel=error "$tarball" \
  "fastify@$(range fastify)" "typescript@$(range typescript)" "@types/node@$(range @types/node)" "tap@$(range tap)") \
  || fail "npm install of the tarball failed"

# 3. Compile the consumer against the published types, and run it.
step "tsc (skipLibCheck off)"
(cd "$app" && npx --no-install tsc -p tsconfig.json) || fail "the consumer does not compile against the published types"
step "start the consumer"
(cd "$app" && exec node dist/server.js >"$scratch/server.out" 2>"$scratch/server.err") &
server_pid=$!
for _ in $(seq 1 100); do
  if [ -s "$scratch/server.out" ] || ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
started="$(head -n 1 "$scratch/server.out" 2>/dev/null || true)"
[ -n "$started" ] || { cat "$scratch/server.err" >&2; fail "the consumer did not start"; }
json () {
  node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; if (v === undefined) process.exit(1); console.log(v)' "$1" "$2"
}
base="$(json "$started" url)"
client_id="$(json "$started" client_id)"

# 4. The seed's flow, over HTTP.
status="" body="" headers=""
request () { # request <method> <path> [curl args…]: sets $status, $body, $headers
  local method="$1" path="$2"
  shift 2
  headers="$scratch/headers"
  status="$(curl -sS -o "$scratch/body" -D "$headers" -w '%{http_code}' -X "$method" "$@" "$base$path")" \
    || fail "$method $path: no answer"
  body="$(cat "$scratch/body")"
}
expect () { # expect <status> <what>
  [ "$status" = "$1" ] || fail "$2: expected $1, got $status: $body"
  step "ok: $2 ($status)"
}

request POST /sign_up/ -H 'content-type: application/json' -d '{"username":"django.pony","password":"djangsta-secret"}'
expect 201 "sign up"
[ "$(json "$body" username)" = django.pony ] || fail "sign-up answered $body"
grep -q djangsta-secret <<<"$body" && fail "sign-up echoed the password"

request POST /o/token/ -d grant_type=password -d username=django.pony -d password=djangsta-secret -d "client_id=$client_id"
expect 200 "password grant"
access="$(json "$body" access_token)" || fail "no access_token in $body"
refresh="$(json "$body" refresh_token)" || fail "no refresh_token in $body"
[ "$(json "$body" token_type)" = Bearer ] || fail "token_type is not Bearer: $body"
grep -qi '^cache-control: no-store' "$headers" || fail "the token answer lacks Cache-Control: no-store"

request GET /me -H "Authorization: Bearer $access"
expect 200 "GET /me with the access token"
[ "$(json "$body" username)" = django.pony ] || fail "/me answered $body"

request POST /o/token/ -d grant_type=refresh_token -d "refresh_token=$refresh" -d "client_id=$client_id"
expect 200 "refresh grant"
new_access="$(json "$body" access_token)" || fail "no access_token in $body"

request GET /me -H "Authorization: Bearer $access"
expect 401 "the rotated access token is refused"
grep -qi '^www-authenticate: Bearer realm="api", error="invalid_token"' "$headers" || fail "no RFC 6750 challenge"
request GET /me -H "Authorization: Bearer $new_access"
expect 200 "GET /me with the new access token"
request POST /o/token/ -d grant_type=refresh_token -d "refresh_token=$refresh" -d "client_id=$client_id"
expect 400 "the rotated refresh token is refused"
request GET /.well-known/oauth-authorization-server
expect 200 "metadata"

kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

# 5. The CLI bin from the installed package (executable, with its native SQLite driver).
step "the CLI bin"
bin="$app/node_modules/.bin/fastify-oauth2-server"
[ -x "$bin" ] && [ -x "$(readlink -f "$bin")" ] || fail "the bin is not installed executable"
help="$(cd "$app" && npx --no-install fastify-oauth2-server --help)" || fail "fastify-oauth2-server --help failed"
grep -q 'Usage: fastify-oauth2-server' <<<"$help" || fail "--help printed no usage: $help"
(cd "$app" && npx --no-install fastify-oauth2-server --db "sqlite:$scratch/cli.sqlite" migrate) >/dev/null \
  || fail "fastify-oauth2-server migrate failed"
created="$(cd "$app" && npx --no-install fastify-oauth2-server --db "sqlite:$scratch/cli.sqlite" client create --name cli --type public --json)" \
  || fail "fastify-oauth2-server client create failed"
json "$created" client_id >/dev/null || fail "client create printed $created"
imported="$(cd "$app" && npx --no-install fastify-oauth2-server --db "sqlite:$scratch/cli.sqlite" import django \
  --from "sqlite:$repo/test/fixtures/dot-1.7.sqlite3" --on-collision rename --json)" || fail "import django failed: $imported"
grep -q '"tokens":{"created":12' <<<"$imported" || fail "import django did not bring the fixture's tokens: $imported"
step "ok: the CLI (--help, migrate, client create, import django)"

# 6. README's testing snippets, as a user of the testing kit runs them.
step "README's testing snippets: tsc, tap, node --test"
(cd "$app" && npx --no-install tsc -p readme/tsconfig.json) || fail "README's testing snippets do not compile against the published types"
(cd "$app" && npx --no-install tap --disable-coverage readme/dist/tap.test.js) >"$scratch/tap.out" 2>&1 \
  || { cat "$scratch/tap.out" >&2; fail "README's tap snippet failed"; }
grep -qE '^# \{ total: ([1-9][0-9]*), pass: \1 \}$' "$scratch/tap.out" || { cat "$scratch/tap.out" >&2; fail "tap ran no passing test"; }
(cd "$app" && node --test readme/dist/node-test.test.js) >"$scratch/node-test.out" 2>&1 \
  || { cat "$scratch/node-test.out" >&2; fail "README's node:test snippet failed"; }
grep -q '^# pass 1$' "$scratch/node-test.out" || { cat "$scratch/node-test.out" >&2; fail "node --test ran no passing test"; }
step "ok: README's testing snippets (tap, node --test)"

step "passed"
