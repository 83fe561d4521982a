// `npm run db:migrate`: creates the database if missing, then applies prisma/migrations offline.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadConfig, redactUrl, repoRoot } from '../config/index.ts';
import { describeStartupError } from '../config/startup.ts';
import { ensureDatabase } from '../store/ensure-db.ts';

const config = loadConfig();
try {
  if (await ensureDatabase(config.databaseUrl)) {
    console.log(`created database ${redactUrl(config.databaseUrl)}`);
  }
} catch (err) {
  console.error(describeStartupError(err, config));
  process.exit(1);
}
const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const res = spawnSync(process.execPath, [prismaCli, 'migrate', 'deploy'], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: { ...process.env, DATABASE_URL: config.databaseUrl, CHECKPOINT_DISABLE: '1' },
});
process.exit(res.status ?? 1);
