// Worker entrypoint: validate config, check Postgres, then take experiments from the queue.
import { describeStartupError, loadConfigOrExit } from '../config/startup.ts';
import { createDb, pingDb } from '../store/db.ts';
import { startWorker } from './service.ts';

const config = loadConfigOrExit();
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
