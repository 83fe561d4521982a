// The conv reduction is named per layer: a CIFAR-10 conv experiment stores how each layer became a
// matrix and GET /v1/experiments/ID shows it (issue 13). In-process app on the real Postgres/Redis,
// no worker: the experiment stays queued and is removed with the test team.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.ts';

describe('conv reduction per layer', () => {
  let t: TestApp;
  before(async () => {
    t = await startApp();
  });
  after(async () => {
    await t?.close();
  });

  it('a CIFAR-10 conv experiment stores and shows its reduction per layer; the input keeps its layout', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({
        name: 'cifar conv reduction',
        reference: { dataset: 'cifar10', architecture: { preset: 'cifar10-conv' }, training: { steps: 10 } },
        specimen: 'same',
        probe: { examples: 2500 },
      }),
    });
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json().id as string;
    // told at submission, before the run
    const submitted = res.json().warnings as Array<{ code: string; layer?: string; message: string }>;
    assert.ok(
      submitted.some(
        (w) => w.code === 'conv-reduction' && w.layer === 'conv1' && /positions as samples/.test(w.message),
      ),
      JSON.stringify(submitted),
    );
    assert.ok(
      submitted.some(
        (w) => w.code === 'conv-reduction' && w.layer === 'input' && /9×9 regions/.test(w.message),
      ),
    );
    const got = await t.app.inject({
      method: 'GET',
      url: `/v1/experiments/${id}`,
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(got.statusCode, 200, got.body);
    const details = got.json().layerDetails.specimen as Array<{
      name: string;
      features: number;
      samples: number;
      reduction: string;
      reductionDetail: string | null;
    }>;
    const by = Object.fromEntries(details.map((d) => [d.name, d]));
    assert.deepEqual(Object.keys(by), ['input', 'conv1', 'conv2', 'conv3', 'fc1', 'logits']);
    // 2,500 examples allow 250 features: the input image is pooled to 9 x 9 regions, not 3 colours
    assert.equal(by.input.reduction, 'pool');
    assert.equal(by.input.features, 243);
    assert.match(by.input.reductionDetail ?? '', /32×32 to 9×9 regions/);
    assert.match(by.input.reductionDetail ?? '', /in every pair: the input's channels are its colours/);
    // conv layers: pooled with dense layers and the input, positions as samples with conv layers (on
    // the common 8×8 grid of conv3, so rows correspond)
    for (const name of ['conv1', 'conv2', 'conv3']) {
      assert.equal(by[name].reduction, 'pool', name);
      assert.match(
        by[name].reductionDetail ?? '',
        /^with conv layers: positions as samples on the 8×8 grid/,
        name,
      );
      assert.match(by[name].reductionDetail ?? '', /; with dense layers and the input: average-pooled/, name);
    }
    const warnings = got.json().warnings as Array<{ code: string; layer?: string; message: string }>;
    assert.ok(
      warnings.some(
        (w) => w.code === 'conv-reduction' && w.layer === 'conv3' && /positions as samples/.test(w.message),
      ),
      JSON.stringify(warnings),
    );
    assert.equal(by.fc1.reduction, 'none');
    assert.equal(by.logits.reduction, 'none');
    for (const d of details) assert.equal(d.samples, 2500, d.name);
    const stored = await t.db.layer.findMany({ where: { experimentId: id, network: 'reference' } });
    assert.equal(stored.find((l) => l.name === 'input')?.reduction, 'pool');
  });
});
