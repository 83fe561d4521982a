// Two experiments that share a network, submitted together to two workers: the network is trained
// once (the run lease makes the second worker wait, then reuse it) and both tensors are identical.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromJson } from '../../core/contracts/json.ts';
import type { ExperimentSummary } from '../../core/contracts/summary.ts';
import { type Service, startService } from '../helpers/service.ts';
import { assertSameTensor, FAST_RECOVERY, finished, smallSpec, submit } from './helpers.ts';

describe('experiments sharing a network on two workers', () => {
  let svc: Service;

  before(async () => {
    svc = await startService({ workers: 2, env: { ...FAST_RECOVERY } });
  });

  after(async () => {
    await svc?.stop();
  });

  it('train it once and store the same tensor', async () => {
    const spec = smallSpec('shared-run', { trainExamples: 1536, batchSize: 16, seed: 11 }, 6);
    const [a, b] = await Promise.all([
      submit(svc, { ...spec, name: 'shared-run a' }),
      submit(svc, { ...spec, name: 'shared-run b' }),
    ]);
    const rows = [await finished(svc.db, a, 120_000), await finished(svc.db, b, 120_000)];
    const runs = rows.map((r) => fromJson<ExperimentSummary>(r.summary).finalAttempt.runs);
    for (const r of runs) assert.equal(r.length, 1, 'Net_S = Net_R: one run');
    const trained = runs.filter((r) => !r[0]!.reused).length;
    assert.equal(trained, 1, `the shared network was trained ${trained} times: ${JSON.stringify(runs)}`);
    assert.equal(rows[0]!.referenceRunId, rows[1]!.referenceRunId, 'one run row');
    const cells = await assertSameTensor(svc.db, b, a);
    assert.equal(cells, 3 * 3 * 6);
  });
});
