// `npm start`: the API and one worker as two child processes; Ctrl-C / SIGTERM stops both.
import { type ChildProcess, spawn } from 'node:child_process';
import { repoRoot } from '../config/index.ts';

const children: ChildProcess[] = [];
let stopping = false;

function launch(name: string, entry: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: repoRoot, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`repdyn: ${name} exited (${signal ?? code}); stopping`);
    stop(code ?? 1);
  });
  children.push(child);
  return child;
}

function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  let alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of alive) c.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of alive) c.kill('SIGKILL');
  }, 10_000);
  const done = () => {
    alive = alive.filter((c) => c.exitCode === null && c.signalCode === null);
    if (alive.length === 0) {
      clearTimeout(timer);
      process.exit(code);
    }
  };
  for (const c of alive) c.once('exit', done);
  done();
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
launch('api', 'server/main.ts');
launch('worker', 'worker/main.ts');
