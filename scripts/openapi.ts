// `npm run openapi`: writes openapi/openapi.json from the route schemas (the app is built with stub
// dependencies and never listens or connects). `npm run openapi -- --check` exits 1 when the
// committed file is not current. After any route change: `npm run openapi && npm run openapi:types`.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig, repoRoot } from '../config/index.ts';
import { type AppDeps, buildApp } from '../server/app.ts';
import { openapiDocument, renderOpenapi } from '../server/plugins/openapi.ts';

export const OPENAPI_PATH = join(repoRoot, 'openapi', 'openapi.json');

/** A dependency that must never be used while generating the document. */
function unused<T>(name: string): T {
  return new Proxy({} as object, {
    get(_target, prop) {
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      throw new Error(`openapi generation must not use deps.${name} (touched .${String(prop)})`);
    },
  }) as T;
}

/** The OpenAPI document of the current routes, built in memory without Postgres or Redis. */
export async function generateOpenapi(): Promise<Record<string, unknown>> {
  const deps: AppDeps = {
    // (no rate limit: its plugin would open its Redis store; it adds no routes or schemas)
    config: loadConfig({ RATE_LIMIT_MAX: '0' }),
    db: unused('db'),
    redis: unused('redis'),
    queue: unused('queue'),
  };
  const app = await buildApp(deps, { logger: false });
  try {
    await app.ready();
    return openapiDocument(app);
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const text = renderOpenapi(await generateOpenapi());
  if (process.argv.includes('--check')) {
    const committed = existsSync(OPENAPI_PATH) ? readFileSync(OPENAPI_PATH, 'utf8') : '';
    if (committed !== text) {
      console.error('openapi/openapi.json is out of date with the routes: run `npm run openapi`');
      process.exit(1);
    }
    console.log('openapi/openapi.json is current');
    return;
  }
  mkdirSync(dirname(OPENAPI_PATH), { recursive: true });
  writeFileSync(OPENAPI_PATH, text);
  console.log(`wrote ${OPENAPI_PATH}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
