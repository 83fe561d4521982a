// Shared steps of the recovery tests: submit, wait for a status, read and compare stored tensors.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../../store/db.ts';
import { waitFor } from '../helpers/env.ts';
import { readJson, type Submitted } from '../helpers/json.ts';
import { type Service, tinySpec } from '../helpers/service.ts';

export const FAST_RECOVERY = {
  JOB_LOCK_MS: '3000',
  STALLED_INTERVAL_MS: '500',
  RECONCILE_INTERVAL_MS: '500',
};

/** A small MLP (784-16-10: layers input, fc1, logits) on a 64-example probe set: cheap cells. */
export function smallSpec(name: string, training: Record<string, unknown>, checkpoints: number) {
  const base = tinySpec();
  return tinySpec({
    name,
    reference: {
      ...base.reference,
      architecture: { type: 'mlp', hidden: [16], activation: 'relu' },
      training: { ...base.reference.training, epochs: 1, ...training },
      checkpoints: { count: checkpoints, spacing: 'linear' },
    },
    probe: { split: 'test', examples: 64, seed: 0 },
  });
}

export async function submit(svc: Service, body: unknown): Promise<string> {
  const res = await svc.request('/v1/experiments', { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 202, await res.clone().text());
  return (await readJson<Submitted>(res)).id;
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
 * Runs `action` at the first moment `condition` holds. Each check freezes `worker` (SIGSTOP) first,
 * so the condition still holds when the action runs; the worker continues afterwards (SIGCONT) unless
 * the action ended it.
 */
export async function atMoment(
  worker: ChildProcess,
  condition: () => Promise<boolean>,
  action: () => Promise<void>,
  what: string,
): Promise<void> {
  await waitFor(
    async () => {
      if (worker.exitCode !== null || worker.signalCode !== null) throw new Error('the worker exited');
      worker.kill('SIGSTOP');
      try {
        if (!(await condition())) return false;
        await action();
        return true;
      } finally {
        if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGCONT');
      }
    },
    { timeoutMs: 60_000, intervalMs: 20, what },
  );
}

/** Kills `worker` (SIGKILL) at the first moment `condition` holds (see atMoment). */
export async function killWorkerWhen(
  svc: Service,
  worker: ChildProcess,
  condition: () => Promise<boolean>,
  what: string,
): Promise<void> {
  await atMoment(worker, condition, () => svc.killWorker(worker), what);
}
