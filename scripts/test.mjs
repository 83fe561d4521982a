#!/usr/bin/env node
// `npm test`: the unit stage, then the integration stage. `npm run test:unit` / `test:integration`
// run one stage. Extra arguments filter files by path substring (`npm test core/cca`); a stage with no
// matching file is skipped, so a filter that names only unit tests never touches PostgreSQL.
//
// Which stage a file belongs to is decided by where it lives, never by reading its source:
//   - unit: everything under UNIT_DIRS, plus the files named in UNIT_FILES. They need no database, no
//     Redis and no network (`npm run test:unit` passes with PostgreSQL and Redis stopped).
//   - integration: every other test/**/*.test.ts. Before they run the test database is migrated.
// A new unit test goes under test/core/ (or is added to UNIT_FILES); anything else is integration.
//
// Parallelism: each stage runs its files in TEST_CONCURRENCY (default: min(2, cores)) lanes, one
// `node --test` process per file, the longest-known kinds first. Integration lane k has a database,
// queue prefix and artifact directory of its own (lane 0 uses the configured ones, lane k > 0 the same
// names with `_k`/`-k` appended), so two files running at once share nothing: not even the rows a
// worker's reconciler sweeps. Files in ALONE run afterwards, one at a time, with nothing else running
// (browser tests, and tests that measure latencies or kill processes against deadlines).
//
// The browser tests (isBrowser: by name) need Chromium; installing it is CI's job (.ci/run), so this stops
// with how to install it when it is missing.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const UNIT_DIRS = ['test/core/'];
const UNIT_FILES = [
  'test/config.test.ts',
  'test/cli/similarity.test.ts',
  'test/store/artifacts.test.ts',
  'test/worker/phases.test.ts',
];
/** The browser tests (they drive Chromium): test/e2e/web.test.ts and any test/e2e/web-*.test.ts. */
const isBrowser = (file) => /^test\/e2e\/web(-[^/]*)?\.test\.ts$/.test(file);
/**
 * Integration files that run with nothing else running: the browser, workers killed against deadlines,
 * and the /health latency bounds (100 ms) of the hostile-request tests.
 */
const ALONE = [
  'test/recovery/',
  // two workers must train at the same time and share the blocks: a busy neighbour can serialise them
  'test/e2e/spread.test.ts',
  'test/server/event-streams.test.ts',
  'test/server/figure-limits.test.ts',
  'test/server/hostile.test.ts',
  'test/server/slice-limits.test.ts',
  'test/server/slow-bodies.test.ts',
];
/** Started first (they take longest), so the lanes end together. */
const FIRST = ['test/e2e/', 'test/server/fuzz.test.ts', 'test/core/train/', 'test/core/cca/'];

const matches = (file, patterns) => patterns.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p));
const isUnit = (file) => matches(file, UNIT_DIRS) || matches(file, UNIT_FILES);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
let stages = ['unit', 'integration'];
const stageArg = args.indexOf('--stage');
if (stageArg >= 0) {
  stages = [args[stageArg + 1]];
  args.splice(stageArg, 2);
  if (!['unit', 'integration'].includes(stages[0])) {
    console.error(`--stage must be unit or integration, not ${stages[0]}`);
    process.exit(2);
  }
}
const filters = args;
const all = collect('test').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
const files = {
  unit: all.filter(isUnit),
  integration: all.filter((f) => !isUnit(f)),
};
if (stages.every((s) => files[s].length === 0)) {
  console.error(`no ${stages.join(' or ')} test files matched`);
  process.exit(1);
}

const concurrency = Math.max(1, Number(process.env.TEST_CONCURRENCY ?? Math.min(2, availableParallelism())));
const baseDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/repdyn_test';
const baseEnv = {
  ...process.env,
  NODE_ENV: 'test',
  CHECKPOINT_DISABLE: '1',
  DATABASE_URL: baseDatabaseUrl,
  QUEUE_PREFIX: process.env.TEST_QUEUE_PREFIX ?? 'repdyn-test',
  ARTIFACT_DIR: process.env.TEST_ARTIFACT_DIR ?? 'artifacts-test',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
};

/** The environment of integration lane k: lane 0 the configured names, others suffixed. */
function laneEnv(k) {
  if (k === 0) return baseEnv;
  const url = new URL(baseDatabaseUrl);
  url.pathname = `${url.pathname}_${k}`;
  return {
    ...baseEnv,
    DATABASE_URL: url.toString(),
    QUEUE_PREFIX: `${baseEnv.QUEUE_PREFIX}-${k}`,
    ARTIFACT_DIR: `${baseEnv.ARTIFACT_DIR}-${k}`,
  };
}

/** Migrates a lane's database and removes what an interrupted earlier run left there. */
async function prepareDatabase(env) {
  const output = [];
  const status = await new Promise((resolve) => {
    const migrate = spawn(process.execPath, ['--import', 'tsx', 'scripts/db-migrate.ts'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    migrate.stdout.on('data', (d) => output.push(d));
    migrate.stderr.on('data', (d) => output.push(d));
    migrate.on('close', resolve);
  });
  if (status !== 0) {
    process.stderr.write(Buffer.concat(output));
    throw new Error(`${env.DATABASE_URL} could not be migrated; is PostgreSQL running?`);
  }
  // Rows left by an interrupted earlier run would be picked up by the test workers' reconciler:
  // remove stale test teams (experiments, keys and cells cascade). Only old ones, so a test run going
  // on at the same time (another checkout on this machine) keeps its own.
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  await client.connect();
  try {
    await client.query(
      `DELETE FROM "Team" WHERE name LIKE 'test-%' AND "createdAt" < now() - interval '1 hour'`,
    );
    await client.query(
      `DELETE FROM "Run" r WHERE r."createdAt" < now() - interval '1 hour' AND NOT EXISTS (SELECT 1 FROM "Experiment" e WHERE e."referenceRunId" = r.id OR e."specimenRunId" = r.id)`,
    );
  } finally {
    await client.end();
  }
}

function checkChromium(list) {
  const browser = list.filter(isBrowser);
  if (browser.length === 0) return;
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(chromium)) return;
  console.error(
    `The browser tests (${browser.join(', ')}) need Chromium at ${chromium}; this script does not ` +
      'install it (CI does, in .ci/run). Install it with `sudo apt-get update && sudo apt-get install -y ' +
      'chromium` (Debian/Ubuntu), set CHROMIUM_PATH to a Chromium or Chrome binary, or leave the browser ' +
      'tests out with a filter.',
  );
  process.exit(1);
}

const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const c of children) c.kill(signal);
    process.exit(130);
  });
}

/** Runs one test file in its own `node --test`; its output is printed in one piece when it ends. */
function runFile(file, env) {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', file],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(child);
    const chunks = [];
    child.stdout.on('data', (d) => chunks.push(d));
    child.stderr.on('data', (d) => chunks.push(d));
    child.on('close', (code, signal) => {
      children.delete(child);
      const seconds = (performance.now() - started) / 1000;
      const ok = code === 0;
      process.stdout.write(
        `\n── ${file} (${seconds.toFixed(1)} s, ${ok ? 'passed' : `FAILED: ${signal ?? `exit ${code}`}`})\n`,
      );
      process.stdout.write(Buffer.concat(chunks));
      resolve({ file, ok, seconds });
    });
  });
}

/** Runs `list` in `lanes` lanes (lane k with envOf(k)); resolves with every file's result. */
async function runLanes(list, lanes, envOf) {
  const queue = [...list];
  const results = [];
  await Promise.all(
    Array.from({ length: Math.min(lanes, queue.length) }, async (_, k) => {
      for (let f = queue.shift(); f; f = queue.shift()) results.push(await runFile(f, envOf(k)));
    }),
  );
  return results;
}

const firstRank = (f) => {
  const i = FIRST.findIndex((p) => matches(f, [p]));
  return i < 0 ? FIRST.length : i;
};
const ordered = (list) => [...list].sort((a, b) => firstRank(a) - firstRank(b) || a.localeCompare(b));

// before any stage runs: a missing browser is said at once, not after the unit stage
if (stages.includes('integration')) checkChromium(files.integration);

const results = [];
const startedAll = performance.now();
for (const stage of stages) {
  const list = files[stage];
  if (list.length === 0) continue;
  const started = performance.now();
  console.log(`\n== ${stage} tests: ${list.length} file(s), ${concurrency} at a time`);
  if (stage === 'unit') {
    results.push(...(await runLanes(ordered(list), concurrency, () => baseEnv)));
  } else {
    const alone = list.filter((f) => isBrowser(f) || matches(f, ALONE));
    const shared = ordered(list.filter((f) => !alone.includes(f)));
    const lanes = Math.max(1, Math.min(concurrency, shared.length));
    try {
      await Promise.all(Array.from({ length: lanes }, (_, k) => prepareDatabase(laneEnv(k))));
    } catch (err) {
      console.error(String(err instanceof Error ? err.message : err));
      process.exit(1);
    }
    results.push(...(await runLanes(shared, lanes, laneEnv)));
    results.push(...(await runLanes(alone, 1, laneEnv)));
  }
  console.log(`\n== ${stage} tests took ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const failed = results.filter((r) => !r.ok);
console.log(`\n== ${results.length} file(s) in ${((performance.now() - startedAll) / 1000).toFixed(1)} s`);
for (const r of [...results].sort((a, b) => b.seconds - a.seconds)) {
  console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.seconds.toFixed(1).padStart(7)} s  ${r.file}`);
}
if (failed.length > 0) {
  console.log(`\n${failed.length} file(s) failed: ${failed.map((r) => r.file).join(', ')}`);
  process.exit(1);
}
