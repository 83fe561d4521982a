#!/usr/bin/env node
// Entry of the `repdyn` command: runs cli/main.ts through tsx so no build step is needed.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const tsxCli = require.resolve('tsx/cli');
const res = spawnSync(
  process.execPath,
  [tsxCli, join(here, '..', 'cli', 'main.ts'), ...process.argv.slice(2)],
  {
    stdio: 'inherit',
    env: { ...process.env, CHECKPOINT_DISABLE: '1' },
  },
);
if (res.signal) process.kill(process.pid, res.signal);
process.exit(res.status ?? 1);
