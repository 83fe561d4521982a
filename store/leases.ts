// Experiment leases: the one live process working on an experiment holds a PostgreSQL advisory lock
// (EXPERIMENT_LOCK_SPACE, hashtext(id)) on a connection of its own. The lock lives exactly as long as
// that connection, so a worker killed in any way loses it at once (the kernel closes its socket), and
// a held lock means "a live process is on it". Redis may lose a job (flush, restart) or hand it out
// twice (an expired lock, a re-enqueue by the reconciler); the lease keeps the work single.
import pg from 'pg';
import { type Db, Prisma } from './db.ts';
import { ACTIVE } from './experiments.ts';

/** First key of the two-key advisory lock (an arbitrary constant that names repdyn experiments). */
export const EXPERIMENT_LOCK_SPACE = 0x52445945;
/** First key of the run locks: one process at a time trains a run (network) definition. */
export const RUN_LOCK_SPACE = 0x52445952;

export interface Lease {
  /** Aborted when the lease's connection fails (Postgres stopped or restarted): stop working. */
  lost: AbortSignal;
  release(): Promise<void>;
}

/** The experiment's lease, or null when another live process holds it. Throws if Postgres is away. */
export function tryLeaseExperiment(databaseUrl: string, experimentId: string): Promise<Lease | null> {
  return tryLease(databaseUrl, EXPERIMENT_LOCK_SPACE, experimentId);
}

/**
 * The lease on training a run definition (by run key), or null while another live process trains it.
 * Two experiments sharing a network wait for each other instead of writing the same artifacts (and
 * pruning each other's optimizer states) at once.
 */
export function tryLeaseRun(databaseUrl: string, runKey: string): Promise<Lease | null> {
  return tryLease(databaseUrl, RUN_LOCK_SPACE, runKey);
}

async function tryLease(databaseUrl: string, space: number, key: string): Promise<Lease | null> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: 5_000,
    keepAlive: true,
    application_name: 'repdyn-lease',
  });
  const lost = new AbortController();
  let released = false;
  client.on('error', (err) => lost.abort(err));
  client.on('end', () => {
    if (!released) lost.abort(new Error('lease connection closed'));
  });
  try {
    await client.connect();
    const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
      space,
      key,
    ]);
    if (!res.rows[0]?.ok) {
      released = true;
      await client.end();
      return null;
    }
  } catch (err) {
    released = true;
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    lost: lost.signal,
    async release() {
      if (released) return;
      released = true;
      await client.end().catch(() => undefined);
    },
  };
}

/** Non-terminal experiments that no live process holds the lease of (candidates to re-enqueue). */
export async function unleasedActiveExperiments(db: Db): Promise<string[]> {
  const rows = await db.$queryRaw<Array<{ id: string }>>`
    SELECT e.id::text AS id
    FROM "Experiment" e
    WHERE e.status::text IN (${Prisma.join([...ACTIVE])})
      AND NOT EXISTS (
        SELECT 1 FROM pg_locks l
        WHERE l.locktype = 'advisory'
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = ${EXPERIMENT_LOCK_SPACE}::int4::oid
          AND l.objid = hashtext(e.id::text)::oid
          AND l.objsubid = 2
      )
    ORDER BY e."queuedAt"`;
  return rows.map((r) => r.id);
}
