/**
 * The testing kit's entry point, `fastify-oauth2-server/testing`: published by the `exports` map, and never
 * loaded by the main entry (checked on the built files); README's snippets are the files the packaging
 * check compiles and runs.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
/** Relative module specifiers in emitted ESM: static imports and re-exports, and dynamic imports. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g

/** Every file of the build that `entry` loads, itself included. */
function graph (entry: string): Set<string> {
  const seen = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(SPECIFIER)) visit(resolve(dirname(file), specifier as string))
  }
  visit(entry)
  return seen
}

t.test('the built main entry never reaches the testing kit; the testing entry does', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'oauth2-build-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  // The package's own build (tsconfig.build.json), into a scratch directory; the child is not measured.
  await promisify(execFile)('/bin/sh', ['-c', 'unset NODE_OPTIONS NODE_V8_COVERAGE; exec "$0" "$@"',
    process.execPath, TSC, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT })

  const exports = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).exports
  t.same(exports['./testing'], { types: './dist/testing/index.d.ts', default: './dist/testing/index.js' })
  const built = (path: string): string => join(out, relative('./dist', path))
  t.ok(existsSync(built(exports['./testing'].types)), 'the types are built')

  const main = [...graph(built(exports['.'].default))].map((file) => relative(out, file))
  t.ok(main.includes('plugin.js') && main.includes('internals.js'), 'the walk follows imports')
  t.same(main.filter((file) => file.startsWith('testing/')), [], 'no testing/ file')

  const kit = [...graph(built(exports['./testing'].default))].map((file) => relative(out, file))
  t.ok(kit.includes('testing/authenticate.js') && kit.includes('internals.js'))
  t.notOk(kit.includes('index.js'), 'nor does the kit load the main entry (the app brings the plugin)')
})

t.test("README's testing snippets are the files the packaging check runs", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const snippets = [...readme.matchAll(/<!-- (test\/package-consumer\/readme\/[\w.-]+) -->\n```ts\n([\s\S]*?)```\n/g)]
  t.same(snippets.map(([, file]) => file), ['test/package-consumer/readme/tap.test.ts', 'test/package-consumer/readme/node-test.test.ts'])
  for (const [, file = '', code] of snippets) t.equal(code, readFileSync(join(ROOT, file), 'utf8'), file)
})
