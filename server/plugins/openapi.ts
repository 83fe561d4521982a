// OpenAPI 3.1 generated from the route schemas (@fastify/swagger), served at GET /openapi.json, with
// Swagger UI at /docs (assets ship in @fastify/swagger-ui: works offline). Register before the routes.
// scripts/openapi.ts writes the same document to openapi/openapi.json; test/openapi checks it is current.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { repoRoot } from '../../config/index.ts';

const version: string = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;

/** Sorts object keys recursively (arrays keep their order) so the document serialises stably. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

const TOP_LEVEL = ['openapi', 'info', 'servers', 'tags', 'security', 'paths', 'components'];

/** The app's OpenAPI document with a stable key order (call after `app.ready()`). */
export function openapiDocument(app: FastifyInstance): Record<string, unknown> {
  const doc = sortKeys(JSON.parse(JSON.stringify(app.swagger()))) as Record<string, unknown>;
  const keys = Object.keys(doc).sort((a, b) => {
    const ia = TOP_LEVEL.indexOf(a);
    const ib = TOP_LEVEL.indexOf(b);
    return (
      (ia < 0 ? TOP_LEVEL.length : ia) - (ib < 0 ? TOP_LEVEL.length : ib) || (a < b ? -1 : a > b ? 1 : 0)
    );
  });
  return Object.fromEntries(keys.map((k) => [k, doc[k]]));
}

/** The document as committed in openapi/openapi.json: 2-space indent, trailing newline. */
export function renderOpenapi(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export async function registerOpenapi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'repdyn',
        version,
        description:
          'Dynamics of deep representations via CCA, as a service. Every 4xx/5xx body is an `Error`.',
      },
      tags: [
        { name: 'health', description: 'liveness and readiness' },
        { name: 'experiments', description: 'submit, follow and read CCA experiments' },
        {
          name: 'meta',
          description: "the service's presets and lists (statuses, figure fractions, measures)",
        },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'a team API key' },
        },
      },
    },
    // addSchema'd schemas ($id 'Error', 'Experiment') become #/components/schemas/<$id>
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    // every /v1 route needs a bearer API key
    transform: ({ schema, url }) => ({
      schema: url.startsWith('/v1/') ? { ...schema, security: [{ bearerAuth: [] }] } : schema,
      url,
    }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => openapiDocument(app));
}
