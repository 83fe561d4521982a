// `repdyn admin create-team --name NAME` | `create-key --team NAME [--name LABEL] [--role admin|member]`
// | `revoke-key KEY_OR_PREFIX`. Talks to Postgres directly (DATABASE_URL), like a migration.
// The new key is printed alone on the last line so scripts can capture it with `tail -n1`.
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.ts';
import { describeStartupError } from '../../config/startup.ts';
import { createKey, createTeam, revokeKey } from '../../store/auth.ts';
import { createDb, Prisma } from '../../store/db.ts';

const USAGE = `usage:
  repdyn admin create-team --name NAME
  repdyn admin create-key --team NAME [--name LABEL] [--role admin|member]
  repdyn admin revoke-key KEY_OR_PREFIX`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { name: { type: 'string' }, team: { type: 'string' }, role: { type: 'string' } },
    allowPositionals: true,
  });
  const config = loadConfig();
  const db = createDb(config.databaseUrl, { poolSize: 1 });
  try {
    switch (sub) {
      case 'create-team': {
        if (!values.name) return usage('--name is required');
        const { teamId, key } = await createTeam(db, values.name);
        console.log(`created team ${values.name} (${teamId}) with an admin key:`);
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
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
      console.error(`repdyn: a team named ${JSON.stringify(values.name)} already exists`);
      return 1;
    }
    if (err instanceof Error && /no team named/.test(err.message)) {
      console.error(`repdyn: ${err.message}`);
      return 1;
    }
    console.error(describeStartupError(err, config, 'postgres'));
    return 1;
  } finally {
    await db.$disconnect();
  }
}

function usage(problem: string): number {
  console.error(`repdyn admin: ${problem}\n${USAGE}`);
  return 2;
}
