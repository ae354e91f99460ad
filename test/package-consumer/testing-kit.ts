/**
 * The testing kit's published types (`fastify-oauth2-server/testing`), checked with skipLibCheck off in the
 * consumer's program, where `OAuth2ServerTypes` declares the user: the kit's user is that type. Compiled,
 * not run (README's snippets in readme/ run the kit).
 */
import type { FastifyInstance } from 'fastify'
import type { OAuth2User } from 'fastify-oauth2-server'
import { authenticateAs, issueTokens, testClock, testHashing, type TestHashing } from 'fastify-oauth2-server/testing'

export async function kitTypes (app: FastifyInstance): Promise<void> {
  const issued = await issueTokens(app, { username: 'alice', scopes: ['read'] })
  const user: OAuth2User = issued.user
  const nickname: string | undefined = issued.user.nickname
  await app.inject({ url: '/me', headers: await authenticateAs(app, { username: 'alice' }) })
  const hashing: TestHashing = testHashing
  const now: () => number = testClock().now
  void [user, nickname, hashing, now]
}
