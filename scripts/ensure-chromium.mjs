#!/usr/bin/env node
// `npm test`'s set-up step (npm runs it as `pretest`): the browser tests drive Debian's Chromium
// (CHROMIUM_PATH overrides /usr/bin/chromium). When it is missing and this machine can install it
// (root and apt-get), it is installed here, so `npm install && npm test` works on a fresh machine; the
// test runner itself (scripts/test.mjs) never installs anything and stops with the command otherwise.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const canInstall =
  !process.env.CHROMIUM_PATH && process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
if (!existsSync(chromium) && canInstall) {
  console.log(`${chromium} is missing: installing Debian's chromium for the browser tests`);
  const opts = { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
  if (spawnSync('apt-get', ['update'], opts).status !== 0) process.exit(1);
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], opts);
  if (install.status !== 0) process.exit(1);
}
