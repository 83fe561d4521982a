#!/usr/bin/env node
// npm postinstall: builds the optional native linear-algebra addon (native/linalg.c over OpenBLAS and
// its LAPACK) with node-gyp. Optional by design: without a C compiler, make, python3 or the system's
// OpenBLAS (Debian: libopenblas-dev), it prints one notice line and exits 0, and core/cca uses its
// JS/onnxruntime path. Offline: it uses the running node's own headers (--nodedir) and is skipped
// without them.
// REPDYN_NATIVE=0 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native');
const addon = join(dir, 'build', 'Release', 'repdyn_linalg.node');
const notice = (what) => console.log(`repdyn: native linear algebra ${what}`);

function nodeGyp() {
  // npm points lifecycle scripts at its bundled node-gyp; otherwise look next to this node, then PATH.
  const bundled = join(
    dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  if (existsSync(bundled)) return [process.execPath, bundled];
  return ['node-gyp'];
}

function main() {
  if (process.env.REPDYN_NATIVE === '0') return notice('skipped (REPDYN_NATIVE=0)');
  rmSync(addon, { force: true }); // never keep an addon built for another node or system
  const prefix = join(dirname(process.execPath), '..');
  const headers = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
  const [cmd, ...pre] = nodeGyp();
  const build = spawnSync(cmd, [...pre, 'rebuild', ...headers], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const log = `${build.stdout ?? ''}${build.stderr ?? ''}${build.error ? String(build.error) : ''}`;
  if (build.status === 0 && existsSync(addon)) {
    // It must also load (the shared OpenBLAS library is found at run time).
    const check = spawnSync(
      process.execPath,
      ['-e', `console.log(require(${JSON.stringify(addon)}).config().split(' ').slice(0, 2).join(' '))`],
      {
        encoding: 'utf8',
      },
    );
    if (check.status === 0) return notice(`built (${check.stdout.trim()})`);
    rmSync(addon, { force: true });
    return notice(`built but does not load, not used: ${check.stderr.trim().split('\n')[0]}`);
  }
  mkdirSync(join(dir, 'build'), { recursive: true });
  writeFileSync(join(dir, 'build', 'build.log'), log);
  const reason =
    log
      .split('\n')
      .find((l) => /error|not found|cannot find/i.test(l))
      ?.trim() ?? `exit ${build.status}`;
  notice(
    `not built (needs g++, make, python3 and libopenblas-dev; using the JS/onnxruntime path; log in native/build/build.log): ${reason.slice(0, 160)}`,
  );
}

try {
  main();
} catch (err) {
  notice(`not built: ${err instanceof Error ? err.message : String(err)}`);
}
