import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../config/index.ts';
import { poolGrid, positionSampleIndices, reduceConv, reducedConvSize } from '../../../core/cca/conv.ts';
import { estimateExperiment, representationShape } from '../../../core/estimate.ts';
import { normaliseExperimentSpec } from '../../../core/spec/experiment.ts';

// acts: [n=2, h=2, w=3, c=2], value = 1000·example + 100·row + 10·col + channel
const shape: [number, number, number, number] = [2, 2, 3, 2];
const acts = new Float32Array(24);
for (let n = 0; n < 2; n++)
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 3; j++)
      for (let c = 0; c < 2; c++) acts[((n * 2 + i) * 3 + j) * 2 + c] = 1000 * n + 100 * i + 10 * j + c;

describe('reduceConv', () => {
  it('positions: every (example, position) is a row of channels', () => {
    const r = reduceConv(acts, shape, 'positions');
    assert.equal(r.rows, 12);
    assert.equal(r.cols, 2);
    assert.deepEqual([...r.data.subarray(0, 4)], [0, 1, 10, 11]);
    assert.deepEqual([...r.data.subarray(22, 24)], [1120, 1121]);
  });

  it('positions: subsamples deterministically to the cap, keeping example-major order', () => {
    const a = reduceConv(acts, shape, 'positions', { maxSamples: 5, seed: 3 });
    const b = reduceConv(acts, shape, 'positions', { maxSamples: 5, seed: 3 });
    assert.equal(a.rows, 5);
    assert.deepEqual(a.data, b.data);
    const rows = positionSampleIndices(2, 2, 3, 5, 3);
    rows.forEach((row, r) => {
      assert.equal(a.data[r * 2], acts[row * 2]);
    });
    for (let r = 1; r < 5; r++) assert.ok(a.data[r * 2] > a.data[(r - 1) * 2]);
  });

  it('mean: global average pool per example', () => {
    const r = reduceConv(acts, shape, 'mean');
    assert.equal(r.rows, 2);
    assert.equal(r.cols, 2);
    assert.deepEqual([...r.data], [60, 61, 1060, 1061]);
  });

  it('flatten: one row of h·w·c per example; input never mutated', () => {
    const copy = acts.slice();
    const r = reduceConv(acts, shape, 'flatten');
    assert.equal(r.rows, 2);
    assert.equal(r.cols, 12);
    assert.deepEqual(r.data, acts);
    r.data[0] = -1;
    assert.deepEqual(acts, copy);
    assert.deepEqual(reducedConvSize([10, 8, 8, 64], 'flatten'), { rows: 10, cols: 4096 });
    assert.deepEqual(reducedConvSize([10, 8, 8, 64], 'positions', 100), { rows: 100, cols: 64 });
    assert.throws(() => reduceConv(acts, [2, 2, 3, 3], 'mean'), RangeError);
  });
});

describe("'pool': conv layers of a network that mixes conv and dense layers", () => {
  it('average-pools each region of the grid and flattens (region, channel)', () => {
    // [2, 2, 3, 2] to 1 x 2 regions: columns {0} and {1, 2} (floor(r*w/gw) boundaries), both rows
    const r = reduceConv(acts, shape, 'pool', { grid: [1, 2] });
    assert.equal(r.rows, 2);
    assert.equal(r.cols, 4);
    assert.deepEqual([...r.data.subarray(0, 4)], [50, 51, 65, 66]);
    assert.deepEqual([...r.data.subarray(4, 8)], [1050, 1051, 1065, 1066]);
    // the full grid is 'flatten', 1 x 1 is 'mean'
    assert.deepEqual(reduceConv(acts, shape, 'pool', { grid: [2, 3] }).data, acts);
    assert.deepEqual(
      reduceConv(acts, shape, 'pool', { grid: [1, 1] }).data,
      reduceConv(acts, shape, 'mean').data,
    );
    assert.throws(() => reduceConv(acts, shape, 'pool', { grid: [3, 1] }), RangeError);
    assert.deepEqual(reducedConvSize([10, 8, 8, 64], 'pool', 100, [2, 2]), { rows: 10, cols: 256 });
  });

  it('keeps 10 examples per feature: the finest grid within examples / 10 (and the feature limit)', () => {
    assert.deepEqual(poolGrid([32, 32, 3], 10_000, 20_000), [18, 18]); // 972 features
    assert.deepEqual(poolGrid([32, 32, 32], 10_000, 20_000), [5, 5]); // 800
    assert.deepEqual(poolGrid([8, 8, 64], 10_000, 20_000), [3, 3]); // 576
    assert.deepEqual(poolGrid([32, 32, 3], 10_000, 300), [10, 10]); // the feature limit binds
    assert.deepEqual(poolGrid([16, 16, 64], 100, 20_000), [1, 1]); // never below the mean
    assert.deepEqual(poolGrid([4, 4, 1], 1_000_000, 20_000), [4, 4]); // never above the layer
  });

  it('is the default for the CIFAR-10 conv net: the input keeps its layout (not 3 mean colours), and estimates count it', () => {
    const limits = loadConfig({}).limits;
    const e = normaliseExperimentSpec({
      name: 'cifar',
      reference: { dataset: 'cifar10', architecture: { preset: 'cifar10-conv' } },
      specimen: 'same',
      probe: { examples: 10_000 },
    });
    assert.equal(e.similarity.convMode, 'pool');
    const shapes = e.networks.reference.layers.map((l) =>
      representationShape(
        l,
        10_000,
        e.similarity.convMode,
        limits.convSamples,
        limits.representationFeatures,
      ),
    );
    const byName = Object.fromEntries(e.networks.reference.layers.map((l, k) => [l.name, shapes[k]]));
    assert.equal(byName.input.reduction, 'pool');
    assert.equal(byName.input.features, 972);
    assert.match(
      byName.input.reductionDetail ?? '',
      /average-pooled from 32×32 to 18×18 regions, flattened: 18×18×3 = 972 features/,
    );
    assert.equal(byName.conv1.features, 800);
    assert.equal(byName.fc1.reduction, 'none');
    for (const s of shapes) {
      assert.equal(s.samples, 10_000, 'one row per example in every layer');
      assert.ok(s.features <= 10_000 / 10, 'at least 10 samples per feature');
    }
    // the estimate's representation is the pooled one (the widest: 972 features)
    const estimate = estimateExperiment(e, limits);
    assert.equal(estimate.representation.maxFeatures, 972);
    // an explicit 'positions' still needs an all-conv pair of networks
    assert.throws(
      () =>
        normaliseExperimentSpec({
          name: 'cifar',
          reference: { dataset: 'cifar10', architecture: { preset: 'cifar10-conv' } },
          specimen: 'same',
          similarity: { convMode: 'positions' },
        }),
      /similarity.convMode/,
    );
  });
});
