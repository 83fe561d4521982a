// The one Prisma client factory, and the one place that re-exports the generated types.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { withTimeout } from '../core/timeout.ts';
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
  await withTimeout(db.$queryRaw`SELECT 1`, timeoutMs, 'database ping');
}

const UNREACHABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const UNREACHABLE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);
const UNREACHABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND']);

/**
 * True when `err` says PostgreSQL cannot be reached or dropped the connection (stopped, restarting,
 * out of connections) rather than refusing a query: the caller may wait and retry. Walks the cause
 * chain (Prisma wraps driver-adapter errors, which wrap pg's).
 */
export function isDbUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    const o = e as { code?: unknown; kind?: unknown; message?: unknown; name?: unknown; cause?: unknown };
    const code = typeof o.code === 'string' ? o.code : '';
    if (UNREACHABLE_PRISMA_CODES.has(code) || UNREACHABLE_SOCKET_CODES.has(code)) return true;
    // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, crash, cannot connect now)
    if (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[1-3]$/.test(code)) return true;
    if (typeof o.kind === 'string' && UNREACHABLE_ADAPTER_KINDS.has(o.kind)) return true;
    if (o.name === 'PrismaClientInitializationError') return true;
    if (
      typeof o.message === 'string' &&
      /Connection terminated|connection timeout|Can't reach database|encountered a connection error|not queryable/i.test(
        o.message,
      )
    )
      return true;
    e = o.cause;
  }
  return false;
}
