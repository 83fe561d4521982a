// Two different networks, trained: the specimen is another run spec (the same tiny MLP with another
// seed, and a narrower MLP). Real API and worker processes, Postgres and Redis.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { svgTexts, xmlProblem } from '../core/figures/xml.ts';
import { waitFor } from '../helpers/env.ts';
import { type Experiment, readJson, type SliceOf, type Submitted } from '../helpers/json.ts';
import { type Service, startService, tinySpec } from '../helpers/service.ts';

async function finished(svc: Service, id: string) {
  return waitFor(
    async () => {
      const body = await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`));
      return ['succeeded', 'failed', 'canceled'].includes(body.status) ? body : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 200, what: 'experiment to finish' },
  );
}

async function submit(svc: Service, body: unknown): Promise<string> {
  const res = await svc.request('/v1/experiments', { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 202, await res.clone().text());
  return (await readJson<Submitted>(res)).id;
}

describe('a specimen that is a different network (trained)', () => {
  let svc: Service;

  before(async () => {
    svc = await startService();
  });

  after(async () => {
    await svc?.stop();
  });

  it('another seed: completes, same-layer rho at the last checkpoint is below 1, figures render', async () => {
    const base = tinySpec();
    const specimen = {
      ...base.reference,
      training: { ...base.reference.training, seed: 2 },
      checkpoints: { count: 3, spacing: 'log' },
    };
    const id = await submit(svc, { ...base, name: 'two seeds', specimen });
    const final = await finished(svc, id);
    assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
    assert.deepEqual(final.layers.reference, ['input', 'fc1', 'fc2', 'logits']);
    assert.deepEqual(final.layers.specimen, ['input', 'fc1', 'fc2', 'logits']);
    // the checkpoint axis is the specimen's (3 checkpoints), not the reference's (4)
    assert.equal(final.checkpoints.length, 3);
    const last = final.checkpoints.length - 1;
    const res = await svc.request(`/v1/experiments/${id}/tensor?measure=rho&checkpoint=${last}`);
    const slice = await readJson<SliceOf<2>>(res);
    assert.equal(res.status, 200, JSON.stringify(slice));
    assert.deepEqual(slice.shape, [4, 4]);
    const rho = slice.values as number[][];
    // the input layer is the same data for both networks; trained layers of two seeds differ
    assert.ok(Math.abs(rho[0][0] - 1) < 1e-4, `input rho ${rho[0][0]}`);
    for (const k of [1, 2, 3]) {
      assert.ok(rho[k][k] < 0.999, `${slice.labels.refLayer[k]} rho ${rho[k][k]} should be below 1`);
      assert.ok(rho[k][k] > 0.05, `${slice.labels.refLayer[k]} rho ${rho[k][k]}`);
    }
    for (const name of ['heatmaps', 'convergence', 'crawl']) {
      const fig = await svc.request(`/v1/experiments/${id}/figures/${name}.svg`);
      const svg = await fig.text();
      assert.equal(fig.status, 200, svg);
      assert.match(fig.headers.get('content-type') ?? '', /^image\/svg\+xml/);
      assert.equal(xmlProblem(svg), null);
      assert.ok(svgTexts(svg).includes('fc1'), name);
      if (name === 'convergence') {
        // two networks: each specimen layer is compared with the reference's layer of that name
        assert.ok(
          svgTexts(svg).includes(
            "Convergence to the reference: each specimen layer vs the reference network's layer of the same name",
          ),
        );
        assert.ok(!svgTexts(svg).some((t) => t.includes('own final version')));
      }
    }
    const runs = await svc.db.experiment.findUniqueOrThrow({ where: { id } });
    assert.notEqual(runs.referenceRunId, runs.specimenRunId, 'two runs were trained');
  });

  it('another architecture: the layer axes have their own names', async () => {
    const base = tinySpec();
    const specimen = {
      ...base.reference,
      architecture: { type: 'mlp', hidden: [16], activation: 'tanh' },
    };
    const id = await submit(svc, { ...base, name: 'two widths', specimen });
    const final = await finished(svc, id);
    assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
    assert.deepEqual(final.layers.reference, ['input', 'fc1', 'fc2', 'logits']);
    assert.deepEqual(final.layers.specimen, ['input', 'fc1', 'logits']);
    const res = await svc.request(`/v1/experiments/${id}/tensor?measure=rho&checkpoint=0,3&specLayer=fc1`);
    const slice = await readJson<SliceOf<3>>(res);
    assert.equal(res.status, 200, JSON.stringify(slice));
    assert.deepEqual(slice.shape, [4, 1, 2]);
    assert.deepEqual(slice.labels.specLayer, ['fc1']);
    for (const row of slice.values as number[][][])
      for (const v of row[0]) assert.ok(v > 0 && v <= 1 + 1e-6, `rho ${v}`);
    const fig = await svc.request(`/v1/experiments/${id}/figures/crawl.svg?layer=fc1`);
    assert.equal(fig.status, 200, await fig.clone().text());
  });
});
