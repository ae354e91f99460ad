/**
 * `fastify-oauth2-server/testing`: a kit for testing apps that use the plugin, framework-agnostic (tap,
 * `node:test`, anything with `app.inject`). Never loaded by the main entry.
 */
export { authenticateAs, issueTokens, type AuthenticateAsOptions, type BearerHeaders, type IssuedTokens } from './authenticate.js'
export { testClock, type TestClock } from './clock.js'
export { testHashing } from './hashing.js'
export { createTestClient, createTestUser, type TestUserOptions } from './store.js'
export type { TestHashing } from '../internals.js'
