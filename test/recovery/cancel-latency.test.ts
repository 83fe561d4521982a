// A cancel is honoured within seconds in the phases with the largest single computations: the random
// baseline (capturing) and the tensor (computing) of an upload experiment with more neurons than
// samples. There, one eigendecomposition takes seconds and the rank re-measurement used to run for
// minutes in JS on the main thread (issue #15: a cancel ignored for 11.5 minutes, job locks lost).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gaussianMatrix } from '../../core/analysis/baseline.ts';
import { encodeNpy } from '../../core/npy.ts';
import { waitFor } from '../helpers/env.ts';
import { type Service, startService } from '../helpers/service.ts';
import { atMoment, FAST_RECOVERY } from './helpers.ts';

const SAMPLES = 128;
const FEATURES = 1536;
const LAYERS = ['a', 'b'];
const CHECKPOINTS = 2;
const LATENCY_S = 5;

describe('cancel latency in the heavy phases', () => {
  let svc: Service;
  const arrays = LAYERS.map((_, l) =>
    Array.from({ length: CHECKPOINTS }, (_, t) =>
      encodeNpy(Float32Array.from(gaussianMatrix(SAMPLES, FEATURES, 500 + 10 * l + t).data), [
        SAMPLES,
        FEATURES,
      ]),
    ),
  );

  before(async () => {
    svc = await startService({ env: { ...FAST_RECOVERY } });
  });

  after(async () => {
    await svc?.stop();
  });

  async function uploadExperiment(name: string): Promise<string> {
    const res = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify({
        name,
        source: 'upload',
        samples: SAMPLES,
        reference: { layers: LAYERS },
        specimen: 'same',
        checkpoints: Array.from({ length: CHECKPOINTS }, (_, t) => ({ step: 10 * t })),
        similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
      }),
    });
    const body = (await res.json()) as { id: string };
    assert.equal(res.status, 201, JSON.stringify(body));
    for (const [l, layer] of LAYERS.entries()) {
      for (let t = 0; t < CHECKPOINTS; t++) {
        const put = await svc.request(`/v1/experiments/${body.id}/activations/specimen/${t}/${layer}`, {
          method: 'PUT',
          body: arrays[l]![t]! as unknown as RequestInit['body'],
          headers: { 'content-type': 'application/octet-stream' },
        });
        assert.equal(put.status, 201, await put.clone().text());
      }
    }
    const done = await svc.request(`/v1/experiments/${body.id}/complete`, { method: 'POST' });
    assert.equal(done.status, 202, await done.clone().text());
    return body.id;
  }

  /** Cancels the experiment the first moment it is in `phase`; seconds until it is `canceled`. */
  async function cancelIn(id: string, phase: 'capturing' | 'computing'): Promise<number> {
    let resumed = 0;
    await atMoment(
      svc.workers[0]!,
      async () => {
        const row = await svc.db.experiment.findUniqueOrThrow({ where: { id } });
        assert.ok(!['succeeded', 'failed', 'canceled'].includes(row.status), `${id} ended before ${phase}`);
        return row.status === phase;
      },
      async () => {
        const res = await svc.request(`/v1/experiments/${id}/cancel`, { method: 'POST' });
        assert.equal(res.status, 202, await res.clone().text());
        resumed = Date.now(); // the worker continues right after this action
      },
      `${id} in ${phase}`,
    );
    const row = await waitFor(
      async () => {
        const r = await svc.db.experiment.findUniqueOrThrow({ where: { id } });
        return r.status === 'canceled' || r.status === 'succeeded' || r.status === 'failed' ? r : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 50, what: `${id} to end after the cancel` },
    );
    assert.equal(row.status, 'canceled', `${row.errorCode}: ${row.errorMessage}`);
    return (Date.now() - resumed) / 1000;
  }

  it(`honours a cancel during the random baseline within ${LATENCY_S} s`, async () => {
    const seconds = await cancelIn(await uploadExperiment('cancel in baseline'), 'capturing');
    assert.ok(seconds <= LATENCY_S, `canceled ${seconds.toFixed(1)} s after the request`);
  });

  it(`honours a cancel during the tensor within ${LATENCY_S} s`, async () => {
    const seconds = await cancelIn(await uploadExperiment('cancel in tensor'), 'computing');
    assert.ok(seconds <= LATENCY_S, `canceled ${seconds.toFixed(1)} s after the request`);
  });
});
