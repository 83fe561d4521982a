// `repdyn admin create-team --name NAME [--if-not-exists]` | `create-key --team NAME [--name LABEL]
// [--role admin|member]` | `list-keys [--team NAME] [--json]` | `revoke-key KEY_OR_PREFIX`.
// Talks to Postgres directly (DATABASE_URL), like a migration.
// A new key is printed alone on the last line so scripts can capture it with `tail -n1`; list-keys
// prints prefixes only (a key's secret is shown once, when it is made, and never stored).
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.ts';
import { describeStartupError } from '../../config/startup.ts';
import { createKey, createTeam, type KeyListing, listKeys, revokeKey } from '../../store/auth.ts';
import { createDb, Prisma } from '../../store/db.ts';

const USAGE = `usage:
  repdyn admin create-team --name NAME [--if-not-exists]
  repdyn admin create-key --team NAME [--name LABEL] [--role admin|member]
  repdyn admin list-keys [--team NAME] [--json]
  repdyn admin revoke-key KEY_OR_PREFIX`;

const isDuplicate = (err: unknown) =>
  err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rest);
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  const config = loadConfig();
  const db = createDb(config.databaseUrl, { poolSize: 1 });
  try {
    switch (sub) {
      case 'create-team': {
        const name = values.name;
        if (!name) return usage('--name is required');
        try {
          const { teamId, key } = await createTeam(db, name);
          console.log(`created team ${name} (${teamId}) with an admin key:`);
          console.log(key);
          return 0;
        } catch (err) {
          if (!isDuplicate(err)) throw err;
          if (!values['if-not-exists']) {
            console.error(
              `repdyn: a team named ${JSON.stringify(name)} already exists. Get a new key for it with\n` +
                `  npx repdyn admin create-key --team ${shellWord(name)} --role admin\n` +
                `or rerun with --if-not-exists (which does that); list its keys with\n` +
                `  npx repdyn admin list-keys --team ${shellWord(name)}`,
            );
            return 1;
          }
        }
        // --if-not-exists on an existing team: a fresh admin key for it, so `| tail -n1` still works
        const { keyId, key } = await createKey(db, name, { name: 'admin', role: 'admin' });
        console.log(`team ${name} already exists; created admin key ${keyId} for it:`);
        console.log(key);
        return 0;
      }
      case 'create-key': {
        if (!values.team) return usage('--team is required');
        const role = values.role ?? 'member';
        if (role !== 'admin' && role !== 'member') return usage('--role must be admin or member');
        const { keyId, key } = await createKey(db, values.team, { name: values.name, role });
        console.log(`created ${role} key ${keyId} for team ${values.team}:`);
        console.log(key);
        return 0;
      }
      case 'list-keys': {
        const keys = await listKeys(db, values.team);
        if (values.json) console.log(JSON.stringify(keys, null, 2));
        else printKeys(keys);
        return 0;
      }
      case 'revoke-key': {
        const target = positionals[0];
        if (!target) return usage('give the key or its prefix');
        if (!(await revokeKey(db, target))) {
          console.error('repdyn: no active key matches');
          return 1;
        }
        console.log('revoked');
        return 0;
      }
      default:
        return usage(sub ? `unknown admin command '${sub}'` : 'missing admin command');
    }
  } catch (err) {
    if (err instanceof Error && /no team named/.test(err.message)) {
      console.error(
        `repdyn: ${err.message}; create it with \`npx repdyn admin create-team --name ${shellWord(values.team ?? '')}\``,
      );
      return 1;
    }
    console.error(describeStartupError(err, config, 'postgres'));
    return 1;
  } finally {
    await db.$disconnect();
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      name: { type: 'string' },
      team: { type: 'string' },
      role: { type: 'string' },
      'if-not-exists': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
}

function printKeys(keys: KeyListing[]): void {
  if (keys.length === 0) {
    console.log('no keys');
    return;
  }
  const day = (d: Date | null) => (d ? d.toISOString().slice(0, 19).replace('T', ' ') : '-');
  const rows = [
    ['TEAM', 'PREFIX', 'ROLE', 'NAME', 'CREATED', 'LAST USED', 'STATE', 'ID'],
    ...keys.map((k) => [
      k.team,
      `rdk_${k.prefix}_…`,
      k.role,
      k.name,
      day(k.createdAt),
      day(k.lastUsedAt),
      k.revokedAt ? `revoked ${day(k.revokedAt)}` : 'active',
      k.id,
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows)
    console.log(
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
}

/** A word the shell reads back as itself (team names may hold spaces or quotes). */
function shellWord(s: string): string {
  return /^[\w.@%+=:,/-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

function usage(problem: string): number {
  console.error(`repdyn admin: ${problem}\n${USAGE}`);
  return 2;
}
