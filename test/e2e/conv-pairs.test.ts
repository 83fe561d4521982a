// A conv net that mixes conv and dense layers, trained and analysed end to end (issue 13, acceptance
// 4): conv-vs-conv pairs are computed on positions as samples (a common grid, rows corresponding),
// every pair with a dense layer or the input on the pooled layers; the experiment stores and shows the
// reduction per layer and per pair, and the crawl is not decided by the pooled input. Real API and
// worker processes, Postgres and Redis; a small MNIST conv net (~20 s).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/env.ts';
import { type Analysis, type Experiment, readJson, type SliceOf, type Submitted } from '../helpers/json.ts';
import { type Service, startService } from '../helpers/service.ts';

describe('conv reduction per pair (trained conv net)', () => {
  let svc: Service;
  before(async () => {
    svc = await startService({ env: { MAX_CONV_SAMPLES: '6000' } });
  });
  after(async () => {
    await svc?.stop();
  });

  it('computes conv-vs-conv pairs on positions, the rest pooled, and says so', async () => {
    const res = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify({
        name: 'conv pairs',
        reference: {
          dataset: 'mnist',
          architecture: {
            type: 'conv',
            conv: [
              { filters: 4, kernel: 3, pool: 2 },
              { filters: 6, kernel: 3 },
            ],
            dense: [8],
          },
          training: { steps: 8, batchSize: 32, trainExamples: 256, seed: 1 },
          checkpoints: { count: 3 },
        },
        specimen: 'same',
        probe: { examples: 300 },
      }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const id = (await readJson<Submitted>(res)).id;
    const final = await waitFor(
      async () => {
        const body = await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`));
        return ['succeeded', 'failed', 'canceled'].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: 'experiment to finish' },
    );
    assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
    // per layer: conv1 [28,28,4] and conv2 [14,14,6] on the common 14×14 grid with conv layers,
    // pooled (300 examples: 30 features at most) with dense layers and the input
    const by = Object.fromEntries(
      (final.layerDetails.specimen as Array<{ name: string; reductionDetail: string; features: number }>).map(
        (d) => [d.name, d],
      ),
    );
    assert.match(
      by.conv1.reductionDetail,
      /^with conv layers: positions as samples on the 14×14 grid \(average-pooled from 28×28\): 6000 \(example, position\) rows, 4 channels; with dense layers and the input: average-pooled from 28×28 to 2×2 regions/,
    );
    assert.match(by.conv2.reductionDetail, /^with conv layers: positions as samples on the 14×14 grid: 6000/);
    assert.match(by.input.reductionDetail, /to 5×5 regions, flattened: 5×5×1 = 25 features \(in every pair/);
    assert.equal(by.fc1.reductionDetail, null);
    // per pair: 4 conv-vs-conv pairs on 6,000 positions, the other 21 on 300 examples
    assert.deepEqual(
      final.summary?.pairReductions?.map((p) => [p.reduction, p.pairs, p.samples]),
      [
        ['layers', 21, 300],
        ['positions', 4, 6000],
      ],
    );
    assert.ok(
      final.warnings.some(
        (w: { code: string; layer?: string; message: string }) =>
          w.code === 'conv-reduction' && w.layer === 'conv2' && /positions as samples/.test(w.message),
      ),
    );
    // the cells themselves: a conv-vs-conv cell has at most as many CCA directions as channels (4),
    // conv1 against fc1 uses conv1's pooled 2×2×4 = 16 features (8 directions with fc1's 8)
    const last = final.checkpoints.length - 1;
    const coef = await readJson<SliceOf<3, 'one'>>(
      await svc.request(
        `/v1/experiments/${id}/tensor?measure=coefficients&checkpoint=${last}&refLayer=conv1`,
      ),
    );
    const spec = coef.labels.specLayer as string[];
    // (padded with null to the widest cell's length)
    const count = (name: string) =>
      (coef.values[0][spec.indexOf(name)] as Array<number | null>).filter((v) => v !== null).length;
    assert.ok(count('conv2') <= 4, `conv1 × conv2: ${count('conv2')} coefficients`);
    assert.ok(count('conv1') <= 4, `conv1 × conv1: ${count('conv1')} coefficients`);
    assert.ok(count('fc1') > 4, `conv1 × fc1: ${count('fc1')} coefficients`);
    // the crawl (fc1 followed) leaves the pooled input out, with the reason
    const analysis = await readJson<Analysis>(await svc.request(`/v1/experiments/${id}/analysis`));
    const input = analysis.crawl.excluded.find((e: { layer?: string }) => e.layer === 'input');
    assert.equal(input?.code, 'structural-input', JSON.stringify(analysis.crawl.excluded));
    for (const s of analysis.crawl.steps) assert.notEqual(s.mostSimilar, 'input');
    // the figures state both n: the layers' and the conv-vs-conv pairs'
    const svg = await (await svc.request(`/v1/experiments/${id}/figures/crawl.svg`)).text();
    assert.match(svg, /n = 300 samples per layer; conv-vs-conv pairs: 6000 \(example, position\) rows/);
  });
});
