/**
 * The migration guide's code compiles: every ```ts block of docs/migrating-from-django-oauth-toolkit.md is
 * type-checked as a module of its own against the library's types (`fastify-oauth2-server` mapped to
 * lib/index.ts), so each one names every type it uses and imports what it needs.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const GUIDE = readFileSync(new URL('../docs/migrating-from-django-oauth-toolkit.md', import.meta.url), 'utf8')
const blocks = [...GUIDE.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string)

t.test('the guide has its code blocks', async (t) => {
  t.ok(blocks.length >= 3, `${blocks.length} blocks`)
  t.match(GUIDE, /npx fastify-oauth2-server import django --from/)
})

t.test('every ts block type-checks against the library', async (t) => {
  const files = new Map(blocks.map((code, i) => [`${REPO}docs-guide-block-${i}.ts`, code]))
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    types: ['node'],
    lib: ['lib.es2023.d.ts'],
    baseUrl: REPO,
    paths: { 'fastify-oauth2-server': ['lib/index.ts'] }
  }
  const host = ts.createCompilerHost(options)
  const { getSourceFile, fileExists, readFile } = host
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name)
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name)
  host.getSourceFile = (name, version, ...rest) => {
    const code = files.get(name)
    return code === undefined ? getSourceFile.call(host, name, version, ...rest) : ts.createSourceFile(name, code, version)
  }
  const program = ts.createProgram([...files.keys()], options, host)
  const diagnostics = ts.getPreEmitDiagnostics(program)
    .filter((d) => d.file === undefined || files.has(d.file.fileName))
    .map((d) => `${d.file?.fileName.slice(REPO.length) ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
  t.same(diagnostics, [], 'no type error in the guide')
})
