// `npm run db:migrate` on an empty database creates every table and is a no-op the second time;
// the committed migrations match prisma/schema.prisma, and a model change without a migration is caught.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { repoRoot, testConfig, waitFor } from '../helpers/env.ts';

const base = new URL(testConfig().databaseUrl);
const dbName = `repdyn_migrate_${randomBytes(4).toString('hex')}`;
const dbUrl = new URL(base.toString());
dbUrl.pathname = `/${dbName}`;

function adminClient(): pg.Client {
  const u = new URL(base.toString());
  u.pathname = '/postgres';
  return new pg.Client({ connectionString: u.toString() });
}

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(cmd, args, {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, CHECKPOINT_DISABLE: '1', ...env },
  });
}

const prismaBin = join(repoRoot, 'node_modules', '.bin', 'prisma');

function diff(schemaPath: string) {
  return run(prismaBin, [
    'migrate',
    'diff',
    '--from-migrations',
    'prisma/migrations',
    '--to-schema-datamodel',
    schemaPath,
    '--exit-code',
  ]);
}

describe('migrations', () => {
  before(async () => {
    const c = adminClient();
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${dbName}"`);
    await c.end();
  });

  after(async () => {
    const c = adminClient();
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await c.end();
  });

  it('db:migrate creates the database and every table, then is a no-op', async () => {
    const first = run('npm', ['run', '--silent', 'db:migrate'], { DATABASE_URL: dbUrl.toString() });
    assert.equal(first.status, 0, first.stderr + first.stdout);
    const c = new pg.Client({ connectionString: dbUrl.toString() });
    await c.connect();
    const tables = await c.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    await c.end();
    const names = tables.rows.map((r: { table_name: string }) => r.table_name);
    for (const t of ['ApiKey', 'Cell', 'Checkpoint', 'Experiment', 'Layer', 'Run', 'Share', 'Team']) {
      assert.ok(names.includes(t), `table ${t} missing: ${names.join(', ')}`);
    }
    const second = run('npm', ['run', '--silent', 'db:migrate'], { DATABASE_URL: dbUrl.toString() });
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout + second.stderr, /No pending migrations to apply/);
  });

  it('access notifications fire for rows that changed, never for a statement that matched none', async () => {
    // store/access-cache.ts drops every API process's access cache on each notification, so a
    // refused revocation (an UPDATE or DELETE of no row) must not send one
    const listener = new pg.Client({ connectionString: dbUrl.toString() });
    const c = new pg.Client({ connectionString: dbUrl.toString() });
    await listener.connect();
    await c.connect();
    try {
      const heard: string[] = [];
      listener.on('notification', (n) => heard.push(n.payload ?? ''));
      await listener.query('LISTEN repdyn_access');
      const team = (
        await c.query(`INSERT INTO "Team" (id, name) VALUES (gen_random_uuid(), 'notify') RETURNING id`)
      ).rows[0].id as string;
      const key = (
        await c.query(
          `INSERT INTO "ApiKey" (id, "teamId", name, prefix, hash) VALUES (gen_random_uuid(), $1, 'k', 'notifyprefix', '\\x00') RETURNING id`,
          [team],
        )
      ).rows[0].id as string;
      const none = '00000000-0000-4000-8000-000000000000';
      await c.query(`UPDATE "ApiKey" SET "revokedAt" = now() WHERE id = $1`, [none]);
      await c.query(`DELETE FROM "ApiKey" WHERE id = $1`, [none]);
      await c.query(`UPDATE "ApiKey" SET "lastUsedAt" = now() WHERE id = $1`, [key]);
      await c.query(`UPDATE "ApiKey" SET role = role WHERE id = $1`, [key]);
      await c.query(`UPDATE "Team" SET name = name WHERE id = $1`, [team]);
      await c.query(`UPDATE "Share" SET "revokedAt" = now() WHERE id = $1`, [none]);
      await c.query(`DELETE FROM "Share" WHERE id = $1`, [none]);
      await c.query(`DELETE FROM "Experiment" WHERE id = $1`, [none]);
      await c.query(`DELETE FROM "Team" WHERE id = $1`, [none]);
      // notifications arrive in commit order: once the real revocation's is here, any earlier one is too
      await c.query(`UPDATE "ApiKey" SET "revokedAt" = now() WHERE id = $1`, [key]);
      await waitFor(() => heard.length > 0, { timeoutMs: 10_000, what: "the revocation's notification" });
      assert.deepEqual(heard, ['ApiKey'], 'only the revocation notified');
      await c.query(`DELETE FROM "Team" WHERE id = $1`, [team]);
      await waitFor(() => heard.includes('Team'), {
        timeoutMs: 10_000,
        what: "the team deletion's notification",
      });
      assert.deepEqual(
        heard.sort(),
        ['ApiKey', 'ApiKey', 'Team'],
        'the team and its cascaded key, once each',
      );
    } finally {
      await listener.end();
      await c.end();
    }
  });

  it('schema and committed migrations do not drift', () => {
    const res = diff('prisma/schema.prisma');
    assert.equal(
      res.status,
      0,
      `drift between prisma/schema.prisma and prisma/migrations:\n${res.stdout}${res.stderr}`,
    );
  });

  it('the drift check fails when a model field is added without a migration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'repdyn-drift-'));
    try {
      const schema = join(dir, 'schema.prisma');
      copyFileSync(join(repoRoot, 'prisma', 'schema.prisma'), schema);
      const text = readFileSync(schema, 'utf8').replace(
        /model Team \{\n/,
        'model Team {\n  driftProbe  String?\n',
      );
      writeFileSync(schema, text);
      const res = diff(schema);
      assert.equal(
        res.status,
        2,
        `expected exit 2 (difference), got ${res.status}: ${res.stdout}${res.stderr}`,
      );
      assert.match(res.stdout, /driftProbe/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
