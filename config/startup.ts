// Turns start-up failures into one clear line: which service, which URL, how to start it.
import { type Config, ConfigError, loadConfig, redactUrl } from './index.ts';

const HOW_TO_START = {
  postgres:
    "start it with 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' or set DATABASE_URL",
  redis:
    'start it with \'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\' or set REDIS_URL',
};

export function describeStartupError(err: unknown, config?: Config, service?: 'postgres' | 'redis'): string {
  if (err instanceof ConfigError) return `repdyn: invalid configuration: ${err.message}`;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string } | null)?.code;
  const guess = service ?? (/redis/i.test(message) ? 'redis' : 'postgres');
  if (config) {
    const url = guess === 'redis' ? config.redisUrl : config.databaseUrl;
    const what = guess === 'redis' ? 'Redis' : 'PostgreSQL';
    return `repdyn: cannot reach ${what} at ${redactUrl(url)} (${code ?? message}); ${HOW_TO_START[guess]}`;
  }
  return `repdyn: ${message}`;
}

/** The configuration, or exit 1 with one line naming the bad variable (entrypoints only). */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    console.error(describeStartupError(err));
    process.exit(1);
  }
}
