// A @prisma/adapter-pg factory for the Prisma CLI only (migrate deploy/dev/status/diff).
// The application uses the stock adapter (store/db.ts); the CLI needs two fixes:
//  1. The adapter cannot deserialize Postgres catalog columns of type `name` (oid 19) and
//     `"char"` (oid 18) that migrate's introspection reads (prisma/prisma#27403): report them as text.
//  2. Its connectToShadowDb drops the shadow database while its own pool is still connected, which
//     Postgres refuses: close the shadow pool first, then drop.
//  3. Its executeScript splits a migration at every `;`, even inside a dollar-quoted function body
//     (and in comments): a script with `$$` is sent whole instead, as one simple query (Postgres runs
//     its statements in one implicit transaction).
import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';

const TEXT_OID = 25;
const CATALOG_OIDS = new Set([18, 19]);

type Field = { dataTypeID: number };
type QueryResult = { fields?: Field[] };
type Queryable = { performIO: (query: unknown) => Promise<QueryResult | QueryResult[]> };
type AdapterLike = Queryable & {
  client: { query: (text: string) => Promise<unknown> };
  onError: (error: unknown) => never;
  startTransaction: (...args: unknown[]) => Promise<unknown>;
  executeScript: (script: string) => Promise<void>;
  dispose: () => Promise<void>;
};

function patchQueryable<T>(target: T): T {
  const q = target as unknown as Queryable;
  const performIO = q.performIO.bind(q);
  q.performIO = async (query) => {
    const result = await performIO(query);
    // A multi-statement script answers with one result per statement.
    for (const r of Array.isArray(result) ? result : [result]) {
      for (const field of r.fields ?? []) {
        if (CATALOG_OIDS.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
      }
    }
    return result;
  };
  return target;
}

function patchAdapter<T>(adapter: T): T {
  const a = patchQueryable(adapter) as unknown as AdapterLike;
  const executeScript = a.executeScript.bind(a);
  a.executeScript = async (script) => {
    if (!script.includes('$$')) return executeScript(script);
    try {
      await a.client.query(script);
    } catch (error) {
      a.onError(error);
    }
  };
  const startTransaction = a.startTransaction.bind(a);
  a.startTransaction = async (...args) => patchQueryable(await startTransaction(...args));
  return adapter;
}

export class CliPrismaPg extends PrismaPg {
  constructor(private readonly connectionString: string) {
    super({ connectionString });
  }

  override async connect() {
    return patchAdapter(await super.connect());
  }

  override async connectToShadowDb() {
    const admin = (await super.connect()) as unknown as AdapterLike;
    const database = `prisma_migrate_shadow_db_${randomUUID()}`;
    await admin.executeScript(`CREATE DATABASE "${database}"`);
    const url = new URL(this.connectionString);
    url.pathname = `/${database}`;
    const shadowFactory = new PrismaPg({ connectionString: url.toString() });
    const shadow = (await shadowFactory.connect()) as unknown as AdapterLike;
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await dispose(); // close the shadow pool before dropping its database
      await admin.executeScript(`DROP DATABASE IF EXISTS "${database}"`);
      await admin.dispose();
    };
    return patchAdapter(shadow) as unknown as Awaited<ReturnType<PrismaPg['connectToShadowDb']>>;
  }
}
