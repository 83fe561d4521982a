// Worker entrypoint: validate config, check Postgres, then take experiments from the queue.
import { type Config, loadConfig } from '../config/index.ts';
import { describeStartupError } from '../scripts/startup-errors.ts';
import { createDb, pingDb } from '../store/db.ts';
import { startWorker } from './service.ts';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error(describeStartupError(err));
  process.exit(1);
}
const db = createDb(config.databaseUrl, { poolSize: 4 });
try {
  await pingDb(db, 5_000);
} catch (err) {
  console.error(describeStartupError(err, config, 'postgres'));
  process.exit(1);
}
const worker = await startWorker(config, db);
let closing = false;
const close = async (signal: string) => {
  if (closing) return;
  closing = true;
  console.log(`repdyn worker: ${signal}, closing`);
  await worker.close();
  await db.$disconnect();
  process.exit(0);
};
process.on('SIGINT', () => void close('SIGINT'));
process.on('SIGTERM', () => void close('SIGTERM'));
