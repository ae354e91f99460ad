#!/usr/bin/env node
// The package's bin: `fastify-oauth2-server <command>`; the commands live in cli.ts.
import { runCli } from './cli.js'

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env
})
