// openapi/openapi.json and openapi/schema.d.ts are generated from the route schemas; these tests fail
// when a route changed without regenerating them (`npm run openapi && npm run openapi:types`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { generateOpenapi, OPENAPI_PATH } from '../../scripts/openapi.ts';
import { buildApp } from '../../server/app.ts';
import { renderOpenapi } from '../../server/plugins/openapi.ts';
import { createDb } from '../../store/db.ts';
import { createExperimentQueue } from '../../store/queue.ts';
import { createRedis } from '../../store/redis.ts';
import { repoRoot, testConfig } from '../helpers/env.ts';

const SCHEMA_DTS = join(repoRoot, 'openapi', 'schema.d.ts');
const committed = () => JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));

describe('openapi document', () => {
  it('openapi/openapi.json matches the current routes', async () => {
    const generated = await generateOpenapi();
    assert.deepEqual(generated, committed(), 'openapi/openapi.json is out of date: run `npm run openapi`');
    assert.equal(
      renderOpenapi(generated),
      readFileSync(OPENAPI_PATH, 'utf8'),
      'openapi/openapi.json is not formatted as generated: run `npm run openapi`',
    );
  });

  it('is a valid OpenAPI 3.1 document (independent validator)', async () => {
    const result = await new Validator().validate(committed());
    assert.deepEqual(result.errors ?? [], []);
    assert.equal(result.valid, true);
  });

  it('names the shared schemas as components and protects /v1 with a bearer key', () => {
    const doc = committed();
    assert.equal(doc.info.title, 'repdyn');
    assert.equal(doc.info.version, JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version);
    assert.ok(doc.components.schemas.Error, 'Error component');
    assert.ok(doc.components.schemas.Experiment, 'Experiment component');
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
    for (const [path, ops] of Object.entries<Record<string, { security?: unknown }>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (path.startsWith('/v1/')) assert.deepEqual(op.security, [{ bearerAuth: [] }], `${method} ${path}`);
        else assert.equal(op.security, undefined, `${method} ${path}`);
      }
    }
  });

  it('openapi/schema.d.ts matches openapi/openapi.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'repdyn-openapi-'));
    try {
      const out = join(dir, 'schema.d.ts');
      const gen = spawnSync(
        join(repoRoot, 'node_modules/.bin/openapi-typescript'),
        [OPENAPI_PATH, '-o', out],
        {
          cwd: repoRoot,
          encoding: 'utf8',
        },
      );
      assert.equal(gen.status, 0, gen.stderr);
      const fmt = spawnSync(
        join(repoRoot, 'node_modules/.bin/biome'),
        ['format', '--stdin-file-path=openapi/schema.d.ts'],
        { cwd: repoRoot, input: readFileSync(out), encoding: 'utf8' },
      );
      assert.equal(fmt.status, 0, fmt.stderr);
      assert.ok(
        fmt.stdout === readFileSync(SCHEMA_DTS, 'utf8'),
        'openapi/schema.d.ts is out of date: run `npm run openapi:types`',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GET /openapi.json and /docs', () => {
  const config = testConfig();
  const db = createDb(config.databaseUrl, { poolSize: 2 });
  const redis = createRedis(config.redisUrl, 'api');
  const queue = createExperimentQueue(redis, `repdyn-test-openapi-${randomBytes(4).toString('hex')}`);
  queue.on('error', () => {});
  let app: FastifyInstance;

  before(async () => {
    app = await buildApp({ config, db, redis, queue }, { logger: false });
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await queue.close().catch(() => undefined);
    redis.disconnect();
    await db.$disconnect();
  });

  it('serves the committed document', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.deepEqual(res.json(), committed(), 'run `npm run openapi`');
  });

  it('serves the docs page and its assets without a network', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /swagger-ui/i);
    const bundle = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    assert.equal(bundle.statusCode, 200);
    assert.ok(bundle.body.length > 100_000, 'the UI bundle ships in the package');
  });
});
