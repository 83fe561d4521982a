// The one Prisma client factory, and the one place that re-exports the generated types.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.ts';

export * from './generated/prisma/client.ts';

export type Db = PrismaClient;

const pools = new WeakMap<Db, pg.Pool>();

export function createDb(databaseUrl: string, options: { poolSize?: number } = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    // keep the pool healthy across a Postgres restart: broken idle clients are dropped
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', () => {}); // an idle client lost its connection: the pool replaces it
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(db, pool);
  return db;
}

/**
 * The connection pool under `db`, for the few hot read paths where Prisma's per-query overhead
 * dominates (authentication, the tensor-slice access check). Same connections, same limits.
 */
export function poolOf(db: Db): pg.Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('poolOf: not a client made by createDb');
  return pool;
}

/** Resolves when `SELECT 1` answers within `timeoutMs`; rejects otherwise. */
export async function pingDb(db: Db, timeoutMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([db.$queryRaw`SELECT 1`, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
