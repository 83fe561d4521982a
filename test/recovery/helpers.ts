// Shared steps of the recovery tests: submit, wait for a status, read and compare stored tensors.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../../store/db.ts';
import { waitFor } from '../helpers/env.ts';
import type { Service } from '../helpers/service.ts';

export const FAST_RECOVERY = {
  JOB_LOCK_MS: '3000',
  STALLED_INTERVAL_MS: '500',
  RECONCILE_INTERVAL_MS: '500',
};

export async function submit(svc: Service, body: unknown): Promise<string> {
  const res = await svc.request('/v1/experiments', { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 202, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

export async function finished(db: Db, id: string, timeoutMs = 90_000) {
  const row = await waitFor(
    async () => {
      const r = await db.experiment.findUnique({ where: { id } });
      return r && ['succeeded', 'failed', 'canceled'].includes(r.status) ? r : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `experiment ${id} to finish` },
  );
  assert.equal(row.status, 'succeeded', `${row.errorCode}: ${row.errorMessage}`);
  return row;
}

/** Every stored cell of an experiment, in key order. */
export function cellsOf(db: Db, experimentId: string) {
  return db.cell.findMany({
    where: { experimentId },
    orderBy: [{ refLayer: 'asc' }, { specLayer: 'asc' }, { checkpoint: 'asc' }],
    omit: { experimentId: true },
  });
}

/** Asserts two experiments stored the same tensor: every cell, every coefficient byte. */
export async function assertSameTensor(db: Db, id: string, cleanId: string): Promise<number> {
  const [got, want] = await Promise.all([cellsOf(db, id), cellsOf(db, cleanId)]);
  assert.ok(want.length > 0, 'the clean run stored cells');
  assert.equal(got.length, want.length, 'cell count');
  for (let k = 0; k < want.length; k++) {
    const { coefficients: gc, ...g } = got[k]!;
    const { coefficients: wc, ...w } = want[k]!;
    assert.deepEqual(g, w, `cell ${k}`);
    assert.ok(Buffer.from(gc).equals(Buffer.from(wc)), `coefficients of cell ${k} differ`);
  }
  return want.length;
}

/** The training state a run has saved (its committed checkpoints), or null before the first. */
export async function runState(
  artifactDir: string,
  runKey: string,
): Promise<{ complete: boolean; checkpoints: Array<{ index: number; step: number }> } | null> {
  try {
    return JSON.parse(await readFile(join(artifactDir, 'runs', runKey, 'state.json'), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Kills `worker` (SIGKILL) at the first moment `condition` holds. Each check freezes the worker
 * (SIGSTOP) first, so what the check sees is exactly the state the worker dies in.
 */
export async function killWorkerWhen(
  svc: Service,
  worker: ChildProcess,
  condition: () => Promise<boolean>,
  what: string,
): Promise<void> {
  await waitFor(
    async () => {
      if (worker.exitCode !== null) throw new Error('the worker exited by itself');
      worker.kill('SIGSTOP');
      let killed = false;
      try {
        if (!(await condition())) return false;
        await svc.killWorker(worker);
        killed = true;
        return true;
      } finally {
        if (!killed) worker.kill('SIGCONT');
      }
    },
    { timeoutMs: 60_000, intervalMs: 20, what },
  );
}
