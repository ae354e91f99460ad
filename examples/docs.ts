/**
 * The example server's API documentation: the OpenAPI document at `/docs/json` and a browsable UI at
 * `/docs`, made by @fastify/swagger and @fastify/swagger-ui from the routes' schemas. Both are dev
 * dependencies of this repository (installed by `npm ci`); an app without them starts all the same,
 * without `/docs`. Register the docs before any route: @fastify/swagger collects routes as they are added.
 */
import type { FastifyInstance } from 'fastify'

async function importDocsPlugins () {
  return await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')])
}

type DocsPlugins = Awaited<ReturnType<typeof importDocsPlugins>>

/** Serves `/docs` and `/docs/json`; resolves to false (and serves nothing) when the plugins are not installed. */
export async function registerDocs (app: FastifyInstance, load: () => Promise<DocsPlugins> = importDocsPlugins): Promise<boolean> {
  let plugins: DocsPlugins
  try {
    plugins = await load()
  } catch (err) {
    app.log.info({ err }, 'no /docs: @fastify/swagger or @fastify/swagger-ui is not installed')
    return false
  }
  const [swagger, swaggerUi] = plugins
  await app.register(swagger.default, {
    openapi: {
      info: {
        title: 'fastify-oauth2-server example',
        description: 'Sign up, get tokens from the token endpoint, and call `/me` with `Authorization: Bearer <access_token>`.',
        version: '1.0.0'
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An access token from the token endpoint.' }
        }
      }
    }
  })
  await app.register(swaggerUi.default, { routePrefix: '/docs', uiConfig: { deepLinking: true } })
  return true
}
