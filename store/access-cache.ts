// The answers that authorise a request (a key's principal, a share token's owner, a finished
// experiment's head), kept in memory so that a hot read needs no database round trip, and dropped the
// moment anything that could make one stale changes.
//
// Correctness does not rest on a time-to-live: the cache is used only while a LISTEN connection is
// up, and triggers (migration 20261129200000_access_notify) NOTIFY `repdyn_access` on every change
// that matters: a key revoked, re-roled or deleted, a share revoked or deleted, an experiment or
// team deleted, a team renamed. Any notification clears the whole cache (such changes are rare). A
// change made by this process clears it before the answer leaves (invalidate(), called from the
// API's onSend hook for every write), so a client that revokes and then reads never sees the old
// answer; another process's change (the admin CLI, a second API) arrives within milliseconds.
// While the connection is down (not yet up, lost, reconnecting) every lookup goes to the database,
// and the cache starts empty once it is back. An answer loaded while a notification arrived is
// not kept (the generation counter), so a lookup that raced a revocation cannot put the old answer
// back after the clear.
import pg from 'pg';

export const ACCESS_CHANNEL = 'repdyn_access';

interface Entry {
  value: unknown;
  expires: number;
}

export interface AccessCacheOptions {
  /** Entries kept at most (least recently used dropped first). Default 10,000. */
  maxEntries?: number;
  /** An entry's life, a backstop only (notifications keep it right). Default 60 s. */
  ttlMs?: number;
  /** Delay before reconnecting a lost LISTEN connection. Default 1 s. */
  reconnectMs?: number;
  /** Told when the LISTEN connection is lost (the cache is bypassed until it is back). */
  onLost?: (err: Error) => void;
}

/** What the cache has done since it was made: what tests and diagnostics read. */
export interface AccessCacheStats {
  /** Lookups answered from memory. */
  hits: number;
  /** Lookups that went to the database (a miss, or the cache bypassed). */
  loads: number;
  /** Clears asked for by this process (invalidate(): a write it made). */
  invalidated: number;
  /** Notifications heard (each cleared the cache): a change by any process, this one included. */
  notified: number;
}

export class AccessCache {
  readonly stats: AccessCacheStats = { hits: 0, loads: 0, invalidated: 0, notified: 0 };
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private client: pg.Client | null = null;
  private listening = false;
  private stopped = false;
  private reconnect: NodeJS.Timeout | null = null;
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly reconnectMs: number;

  constructor(
    private readonly databaseUrl: string,
    private readonly options: AccessCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.ttlMs = options.ttlMs ?? 60_000;
    this.reconnectMs = options.reconnectMs ?? 1_000;
  }

  /** Answers held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Whether lookups are being cached (the LISTEN connection is up). */
  get live(): boolean {
    return this.listening;
  }

  /** Connects and listens; resolves once cached lookups are safe (or after the first failure). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnect) clearTimeout(this.reconnect);
    this.reconnect = null;
    this.listening = false;
    this.clear();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  /** Forgets every answer: a write by this process. */
  invalidate(): void {
    this.stats.invalidated++;
    this.clear();
  }

  /** Forgets every answer, and any lookup in flight will not keep its own. */
  private clear(): void {
    this.generation++;
    this.entries.clear();
  }

  /**
   * The cached answer for `key`, else `load()`'s, kept when `keep(value)` says it may be (a
   * non-null principal, a finished experiment) and nothing changed while it was loading.
   */
  async through<T>(key: string, load: () => Promise<T>, keep: (value: T) => boolean): Promise<T> {
    if (!this.listening) {
      this.stats.loads++;
      return load();
    }
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) {
      this.stats.hits++;
      this.entries.delete(key); // most recently used last
      this.entries.set(key, hit);
      return hit.value as T;
    }
    this.stats.loads++;
    const generation = this.generation;
    const value = await load();
    if (this.listening && generation === this.generation && keep(value)) {
      this.entries.delete(key);
      this.entries.set(key, { value, expires: now + this.ttlMs });
      while (this.entries.size > this.maxEntries) {
        const oldest = this.entries.keys().next().value as string;
        this.entries.delete(oldest);
      }
    }
    return value;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      connectionTimeoutMillis: 5_000,
      application_name: 'repdyn-access-cache',
    });
    const lost = (err: Error) => {
      if (this.client !== client) return;
      this.client = null;
      this.listening = false;
      this.clear();
      client.end().catch(() => undefined);
      this.options.onLost?.(err);
      if (!this.stopped) this.reconnect = setTimeout(() => void this.connect(), this.reconnectMs);
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    client.on('notification', () => {
      this.stats.notified++;
      this.clear();
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${ACCESS_CHANNEL}`);
      if (this.client !== client) return;
      // anything cached before now may predate a change no notification told of
      this.clear();
      this.listening = true;
    } catch (err) {
      lost(err as Error);
    }
  }
}

/** `cache.through(...)` when the process runs a cache, else `load()` (every lookup queries). */
export function throughCache<T>(
  cache: AccessCache | null,
  key: string,
  load: () => Promise<T>,
  keep: (value: T) => boolean,
): Promise<T> {
  return cache ? cache.through(key, load, keep) : load();
}
