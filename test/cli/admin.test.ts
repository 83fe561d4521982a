// `repdyn admin` against the test database: create-team on an existing name explains what to do,
// --if-not-exists prints a working key on every run, list-keys never prints a secret.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../../store/auth.ts';
import { createDb, type Db } from '../../store/db.ts';
import { repoRoot, testConfig } from '../helpers/env.ts';

function admin(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'repdyn.js'), 'admin', ...args], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';

describe('repdyn admin', () => {
  let db: Db;
  const team = `test-admin-${randomBytes(4).toString('hex')}`;

  before(() => {
    db = createDb(testConfig().databaseUrl, { poolSize: 1 });
  });

  after(async () => {
    await db.team.deleteMany({ where: { name: { in: [team, `${team} two`] } } });
    await db.$disconnect();
  });

  it('create-team twice: explains, and --if-not-exists prints a working admin key each time', async () => {
    const created = await admin(['create-team', '--name', team, '--if-not-exists']);
    assert.equal(created.code, 0, created.err);
    const k1 = lastLine(created.out);
    const p1 = await authenticate(db, k1);
    assert.equal(p1?.teamName, team);
    assert.equal(p1?.role, 'admin');

    const again = await admin(['create-team', '--name', team]);
    assert.equal(again.code, 1);
    assert.equal(again.out, '', 'nothing on stdout, so `KEY=$(… | tail -n1)` is empty, not a message');
    assert.match(again.err, /already exists/);
    assert.match(again.err, new RegExp(`repdyn admin create-key --team ${team} --role admin`));
    assert.match(again.err, /--if-not-exists/);

    const twice = await admin(['create-team', '--name', team, '--if-not-exists']);
    assert.equal(twice.code, 0, twice.err);
    const k2 = lastLine(twice.out);
    assert.notEqual(k2, k1);
    const p2 = await authenticate(db, k2);
    assert.equal(p2?.teamId, p1?.teamId, 'the same team');
    assert.equal(p2?.role, 'admin');
    assert.equal(await db.team.count({ where: { name: team } }), 1);
  });

  it('list-keys shows prefixes, roles and states, never a secret', async () => {
    const made = await admin(['create-key', '--team', team, '--name', 'ci', '--role', 'member']);
    assert.equal(made.code, 0, made.err);
    const key = lastLine(made.out);
    const prefix = key.split('_')[1];
    const revoke = await admin(['revoke-key', prefix]);
    assert.equal(revoke.code, 0, revoke.err);

    const table = await admin(['list-keys', '--team', team]);
    assert.equal(table.code, 0, table.err);
    assert.ok(!table.out.includes(key), 'the secret is not printed');
    const row = table.out.split('\n').find((l) => l.includes(prefix));
    assert.ok(row, table.out);
    assert.match(row, /member\s+ci\s.*revoked/);
    assert.equal(table.out.match(new RegExp(`^${team}\\s.*admin\\s+admin\\s.*active`, 'gm'))?.length, 2);

    const asJson = await admin(['list-keys', '--team', team, '--json']);
    assert.equal(asJson.code, 0, asJson.err);
    const keys = JSON.parse(asJson.out) as Array<Record<string, unknown>>;
    assert.equal(keys.length, 3);
    // the whole secret (it may itself contain '_': a fragment of it could occur anywhere by chance)
    const secret = key.split('_').slice(2).join('_');
    assert.ok(secret.length >= 16 && !asJson.out.includes(secret), 'the secret is not printed');
    for (const k of keys)
      assert.deepEqual(Object.keys(k).sort(), [
        'createdAt',
        'id',
        'lastUsedAt',
        'name',
        'prefix',
        'revokedAt',
        'role',
        'team',
      ]);

    const everyone = await admin(['list-keys', '--json']);
    assert.ok((JSON.parse(everyone.out) as unknown[]).length >= 3);

    const missing = await admin(['list-keys', '--team', `${team} two`]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.err,
      new RegExp(`no team named "${team} two"; create it with .*create-team --name '${team} two'`),
    );
  });
});
