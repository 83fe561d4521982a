#!/usr/bin/env node
// `npm test`: prepares the test database (repdyn_test, migrated) and runs every test file under
// test/ with node's built-in runner through tsx. Extra arguments filter files by path substring.
// Node 20's `--test` takes no globs, so the files are listed here.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const env = {
  ...process.env,
  NODE_ENV: 'test',
  CHECKPOINT_DISABLE: '1',
  DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/repdyn_test',
  QUEUE_PREFIX: process.env.TEST_QUEUE_PREFIX ?? 'repdyn-test',
  ARTIFACT_DIR: process.env.TEST_ARTIFACT_DIR ?? 'artifacts-test',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
};

const migrate = spawnSync('npm', ['run', '--silent', 'db:migrate'], { stdio: 'inherit', env });
if (migrate.status !== 0) {
  console.error('test database could not be migrated; is PostgreSQL running?');
  process.exit(1);
}

// Rows left by an interrupted earlier run would be picked up by the test workers' reconciler:
// remove stale test teams (experiments, keys and cells cascade) before starting. Only old ones, so a
// test run going on at the same time (another checkout on this machine) keeps its own.
const client = new pg.Client({ connectionString: env.DATABASE_URL });
await client.connect();
await client.query(`DELETE FROM "Team" WHERE name LIKE 'test-%' AND "createdAt" < now() - interval '1 hour'`);
await client.query(
  `DELETE FROM "Run" r WHERE r."createdAt" < now() - interval '1 hour' AND NOT EXISTS (SELECT 1 FROM "Experiment" e WHERE e."referenceRunId" = r.id OR e."specimenRunId" = r.id)`,
);
await client.end();

const filters = process.argv.slice(2);
const files = collect('test').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The browser tests drive Debian's Chromium (CHROMIUM_PATH overrides /usr/bin/chromium). Install it
// when it is missing and we may (root, apt-get); otherwise stop with how to install it, never skip.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (files.some((f) => readFileSync(f, 'utf8').includes("from 'playwright-core'")) && !existsSync(chromium)) {
  const canInstall =
    !process.env.CHROMIUM_PATH &&
    process.getuid?.() === 0 &&
    spawnSync('apt-get', ['--version']).status === 0;
  if (canInstall) {
    console.log(`${chromium} is missing: installing Debian's chromium for the browser tests`);
    const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const opts = { stdio: 'inherit', env: aptEnv };
    if (spawnSync('apt-get', ['update'], opts).status !== 0) process.exit(1);
    if (spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], opts).status !== 0) {
      process.exit(1);
    }
  }
  if (!existsSync(chromium)) {
    console.error(
      `The browser tests need Chromium at ${chromium}. Install it with ` +
        '`sudo apt-get update && sudo apt-get install -y chromium` (Debian/Ubuntu), or set CHROMIUM_PATH ' +
        'to a Chromium or Chrome binary.',
    );
    process.exit(1);
  }
}

const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
process.exit(res.status ?? 1);
