// Worker entrypoint (filled in by the experiment pipeline): validates config and connections.
import { loadConfig } from '../config/index.ts';
import { describeStartupError } from '../scripts/startup-errors.ts';
import { createDb, pingDb } from '../store/db.ts';

const config = (() => {
  try {
    return loadConfig();
  } catch (err) {
    console.error(describeStartupError(err));
    process.exit(1);
  }
})();
const db = createDb(config.databaseUrl);
try {
  await pingDb(db, 5_000);
} catch (err) {
  console.error(describeStartupError(err, config, 'postgres'));
  process.exit(1);
}
console.log('repdyn worker: connected; waiting for work');
setInterval(() => {}, 1 << 30);
