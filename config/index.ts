// One validated configuration for every entrypoint (API, worker, CLI admin, scripts).
// Read once from the environment; every value has a default that works on a developer machine.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Limits } from '../core/estimate.ts';

export const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  artifactDir: string;
  /**
   * ARTIFACT_URL=s3://bucket/prefix puts run artifacts in an S3-compatible bucket instead of
   * artifactDir (store/artifact-store.ts); S3_ENDPOINT (MinIO, a local server), S3_REGION and
   * S3_FORCE_PATH_STYLE go with it; credentials come from the AWS SDK's usual variables.
   */
  artifactUrl: string | undefined;
  s3: {
    endpoint: string | undefined;
    region: string;
    forcePathStyle: boolean | undefined;
    /** AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY when both are set; otherwise the SDK's own chain */
    credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  };
  sharedDir: string;
  cifarDir: string | undefined;
  host: string;
  port: number;
  logLevel: string;
  tfjsBackend: string | undefined;
  gemmEngine: 'auto' | 'blas' | 'onnx' | 'tfjs' | 'js';
  workerConcurrency: number;
  /**
   * An experiment whose tensor has at least this many cells is spread over the workers: its two
   * runs train at once (when both need training) and its tensor is cut into `tensorBlocks` blocks
   * of checkpoints, child jobs any idle worker takes. 0 = always.
   */
  spreadMinCells: number;
  tensorBlocks: number;
  /** how often a worker re-enqueues non-terminal experiments from Postgres (ms) */
  reconcileIntervalMs: number;
  /** BullMQ job lock: a killed worker's job is taken over once its lock has expired (ms) */
  jobLockMs: number;
  /** how often a worker looks for jobs whose lock expired (ms) */
  stalledIntervalMs: number;
  /** browser origins allowed to call the API cross-origin; empty = none (same-origin only); ['*'] = any */
  corsOrigins: string[];
  /** which proxies' X-Forwarded-For to believe for the client address (Fastify trustProxy) */
  trustProxy: boolean | number | string[];
  /**
   * requests per API key (share tokens count against the key that minted them; unauthenticated
   * requests against the client IP) per window on /v1; max 0 = no limit. `redis`: how long a count
   * in Redis may take before the request goes through uncounted, and how long a Redis that failed
   * or timed out is then left alone (circuit breaker).
   */
  rateLimit: { max: number; windowMs: number; redis: { timeoutMs: number; cooldownMs: number } };
  /** the estimate limits (core/estimate.ts) plus request-size and per-team limits */
  limits: Limits & {
    bodyBytes: number;
    uploadBytes: number;
    activeExperiments: number;
    /** most cells one tensor slice may select */
    sliceCells: number;
    /** most bytes one tensor slice's answer may take (estimated before it is built) */
    sliceBytes: number;
    /** most heatmap cells / line points one figure may draw (cells × panels) */
    figureCells: number;
    /** largest SVG a figure may be */
    figureBytes: number;
    /** open /events streams: per API key (or share token), and per API process */
    eventStreamsPerKey: number;
    eventStreams: number;
    /** an /events stream ends after this long (the client reconnects) */
    eventStreamSeconds: number;
    /** a request body (an upload included) that sends nothing for this long is cut off */
    bodyIdleMs: number;
    /** uploads in flight at once per API key */
    uploadsPerKey: number;
    /** live share links per experiment */
    shareTokens: number;
  };
  /** threads that render figures (off the event loop) */
  figureWorkers: number;
  /** an /events stream sends a comment line after this long without an event */
  eventHeartbeatMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function str(env: Env, key: string, fallback: string): string {
  const v = env[key];
  return v === undefined || v === '' ? fallback : v;
}

function int(env: Env, key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${key}=${JSON.stringify(raw)} is not an integer in [${min}, ${max}]`);
  }
  return v;
}

function url(env: Env, key: string, fallback: string, protocols: string[]): string {
  const raw = str(env, key, fallback);
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(
      `${key}=${JSON.stringify(raw)} is not a URL (expected ${protocols[0]}//host:port/…)`,
    );
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${key}=${JSON.stringify(raw)} must use ${protocols.join(' or ')}`);
  }
  return raw;
}

function oneOf<T extends string>(env: Env, key: string, fallback: T, allowed: readonly T[]): T {
  const v = str(env, key, fallback);
  if (!(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(`${key}=${JSON.stringify(v)} must be one of ${allowed.join(', ')}`);
  }
  return v as T;
}

/** `true` (any proxy), a hop count, or a comma-separated list of proxy addresses/CIDRs; default none. */
function trustProxy(env: Env, key: string): boolean | number | string[] {
  const raw = str(env, key, '').trim();
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const list = raw.split(',').map((p) => p.trim());
  if (list.some((p) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(p))) {
    throw new ConfigError(`${key}=${JSON.stringify(raw)} must be true, a hop count, or addresses/CIDRs`);
  }
  return list;
}

/** A comma-separated list of origins (`https://host[:port]`), or `*` for any. */
function origins(env: Env, key: string): string[] {
  const raw = str(env, key, '').trim();
  if (raw === '') return [];
  if (raw === '*') return ['*'];
  return raw.split(',').map((part) => {
    const origin = part.trim();
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(
        `${key}: ${JSON.stringify(origin)} is not an origin (expected scheme://host[:port], comma-separated, or *)`,
      );
    }
    return origin;
  });
}

/** Parses and validates the configuration; throws ConfigError with one line naming the variable. */
/** GEMM_ENGINE alone (the worker's engine selection; `repdyn similarity` reads only this). */
export function gemmEngineSetting(env: Env = process.env): Config['gemmEngine'] {
  return oneOf(env, 'GEMM_ENGINE', 'auto', ['auto', 'blas', 'onnx', 'tfjs', 'js'] as const);
}

export function loadConfig(env: Env = process.env): Config {
  return {
    databaseUrl: url(env, 'DATABASE_URL', 'postgresql://postgres@127.0.0.1:5432/repdyn', [
      'postgresql:',
      'postgres:',
    ]),
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    queuePrefix: str(env, 'QUEUE_PREFIX', 'repdyn'),
    artifactDir: resolve(repoRoot, str(env, 'ARTIFACT_DIR', 'artifacts')),
    artifactUrl: env['ARTIFACT_URL'] || undefined,
    s3: {
      endpoint: env['S3_ENDPOINT'] || undefined,
      region: env['S3_REGION'] || env['AWS_REGION'] || 'us-east-1',
      forcePathStyle: env['S3_FORCE_PATH_STYLE'] ? env['S3_FORCE_PATH_STYLE'] !== 'false' : undefined,
      credentials:
        env['AWS_ACCESS_KEY_ID'] && env['AWS_SECRET_ACCESS_KEY']
          ? { accessKeyId: env['AWS_ACCESS_KEY_ID'], secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] }
          : undefined,
    },
    sharedDir: resolve(repoRoot, str(env, 'SHARED_DIR', '../shared')),
    cifarDir: env['CIFAR_DIR'] ? resolve(repoRoot, env['CIFAR_DIR']) : undefined,
    host: str(env, 'HOST', '127.0.0.1'),
    port: int(env, 'PORT', 8080, 0, 65535),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    tfjsBackend: env['TFJS_BACKEND'] || undefined,
    gemmEngine: gemmEngineSetting(env),
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 1, 1, 64),
    spreadMinCells: int(env, 'SPREAD_MIN_CELLS', 256),
    tensorBlocks: int(env, 'TENSOR_BLOCKS', 4, 1, 1000),
    reconcileIntervalMs: int(env, 'RECONCILE_INTERVAL_MS', 15_000, 100),
    jobLockMs: int(env, 'JOB_LOCK_MS', 60_000, 1_000),
    stalledIntervalMs: int(env, 'STALLED_INTERVAL_MS', 30_000, 100),
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    trustProxy: trustProxy(env, 'TRUST_PROXY'),
    rateLimit: {
      max: int(env, 'RATE_LIMIT_MAX', 3000, 0),
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1),
      redis: {
        timeoutMs: int(env, 'RATE_LIMIT_REDIS_TIMEOUT_MS', 50, 1, 10_000),
        cooldownMs: int(env, 'RATE_LIMIT_REDIS_COOLDOWN_MS', 5_000, 0, 600_000),
      },
    },
    limits: {
      bodyBytes: int(env, 'MAX_BODY_BYTES', 64 * 1024, 1024),
      probeExamples: int(env, 'MAX_PROBE_EXAMPLES', 10_000, 2),
      trainExamples: int(env, 'MAX_TRAIN_EXAMPLES', 60_000, 1),
      checkpoints: int(env, 'MAX_CHECKPOINTS', 100, 2),
      representationFeatures: int(env, 'MAX_REPRESENTATION_FEATURES', 4096, 1),
      convSamples: int(env, 'MAX_CONV_SAMPLES', 20_000, 2),
      tensorCells: int(env, 'MAX_TENSOR_CELLS', 20_000, 1),
      memoryMB: int(env, 'MAX_ESTIMATED_MEMORY_MB', 8192, 1),
      seconds: int(env, 'MAX_ESTIMATED_SECONDS', 6 * 3600, 1),
      uploadBytes: int(env, 'MAX_UPLOAD_BYTES', 512 * 1024 * 1024, 1024),
      activeExperiments: int(env, 'MAX_ACTIVE_EXPERIMENTS', 20, 1),
      sliceCells: int(env, 'MAX_SLICE_CELLS', 100_000, 1),
      sliceBytes: int(env, 'MAX_SLICE_BYTES', 16 * 1024 * 1024, 1024),
      figureCells: int(env, 'MAX_FIGURE_CELLS', 20_000, 1),
      figureBytes: int(env, 'MAX_FIGURE_BYTES', 16 * 1024 * 1024, 1024),
      eventStreamsPerKey: int(env, 'MAX_EVENT_STREAMS_PER_KEY', 20, 1),
      eventStreams: int(env, 'MAX_EVENT_STREAMS', 1000, 1),
      eventStreamSeconds: int(env, 'EVENT_STREAM_MAX_SECONDS', 1800, 1),
      bodyIdleMs: int(env, 'BODY_IDLE_TIMEOUT_MS', 30_000, 100),
      uploadsPerKey: int(env, 'MAX_UPLOADS_PER_KEY', 4, 1),
      shareTokens: int(env, 'MAX_SHARE_TOKENS', 20, 1, 10_000),
    },
    figureWorkers: int(env, 'FIGURE_WORKERS', 1, 1, 16),
    eventHeartbeatMs: int(env, 'EVENT_HEARTBEAT_MS', 15_000, 100),
  };
}

/** Hides the password of a connection URL for messages and logs. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return raw;
  }
}
