import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../config/index.ts';
import {
  poolGrid,
  positionSampleIndices,
  positionsGrid,
  reduceConv,
  reducedConvSize,
} from '../../../core/cca/conv.ts';
import { estimateExperiment, representationShape } from '../../../core/estimate.ts';
import {
  captureOptions,
  commonPositionsGrid,
  normaliseExperimentSpec,
} from '../../../core/spec/experiment.ts';

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

describe('positions as samples on a common grid (rows correspond across layers)', () => {
  // Two conv layers of one network seen on the same 3 examples: fine [3, 8, 8, 2] and coarse
  // [3, 4, 4, 2], where each coarse position is exactly the mean of the fine layer's 2 x 2 block above
  // it (value = f(example, coarse position, channel) + a zero-mean within-block detail).
  const n = 3;
  const coarse = new Float32Array(n * 4 * 4 * 2);
  const fine = new Float32Array(n * 8 * 8 * 2);
  for (let e = 0; e < n; e++)
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++)
        for (let c = 0; c < 2; c++) {
          const base = 100 * e + 10 * (4 * Math.floor(y / 2) + Math.floor(x / 2)) + c;
          const detail = ((y % 2) * 2 + (x % 2) - 1.5) * 0.25; // sums to 0 over each block
          fine[((e * 8 + y) * 8 + x) * 2 + c] = base + detail;
          coarse[((e * 4 + Math.floor(y / 2)) * 4 + Math.floor(x / 2)) * 2 + c] = base;
        }

  it('keeps the same (example, position) rows in layers of different spatial sizes', () => {
    const grid = positionsGrid([
      [8, 8, 2],
      [4, 4, 2],
      [10], // dense layers take no part
    ]);
    assert.deepEqual(grid, [4, 4]);
    const options = { maxSamples: 20, seed: 5, grid };
    const a = reduceConv(fine, [n, 8, 8, 2], 'positions', options);
    const b = reduceConv(coarse, [n, 4, 4, 2], 'positions', options);
    // before the common grid, the fine layer kept 20 of its 192 rows and the coarse one 20 of its 48:
    // different examples and positions in the same row of the two matrices
    assert.equal(a.rows, 20);
    assert.equal(b.rows, 20);
    assert.equal(a.cols, 2);
    for (let i = 0; i < a.data.length; i++) assert.ok(Math.abs(a.data[i] - b.data[i]) < 1e-4, `value ${i}`);
    assert.deepEqual(reducedConvSize([n, 8, 8, 2], 'positions', 20, [4, 4]), { rows: 20, cols: 2 });
    assert.deepEqual(reducedConvSize([n, 8, 8, 2], 'positions', 1000, [4, 4]), { rows: 48, cols: 2 });
    // without a grid each layer keeps its own positions (one layer alone)
    assert.equal(reduceConv(fine, [n, 8, 8, 2], 'positions', { maxSamples: 1000 }).rows, 192);
    assert.throws(() => reduceConv(coarse, [n, 4, 4, 2], 'positions', { grid: [8, 8] }), RangeError);
  });

  it('is the default for conv-vs-conv pairs of the CIFAR-10 conv net; the input keeps its pooled layout', () => {
    const limits = loadConfig({}).limits;
    const e = normaliseExperimentSpec({
      name: 'cifar',
      reference: { dataset: 'cifar10', architecture: { preset: 'cifar10-conv' } },
      specimen: 'same',
      probe: { examples: 2500 },
    });
    assert.equal(e.similarity.convMode, 'pool');
    assert.equal(e.similarity.convPairs, 'positions');
    const grid = commonPositionsGrid(e);
    assert.deepEqual(grid, [8, 8], 'conv3 [8, 8, 64] is the coarsest conv layer');
    assert.deepEqual(captureOptions(e, limits).positionsGrid, [8, 8]);
    const byName = Object.fromEntries(
      e.networks.reference.layers.map((l) => [
        l.name,
        representationShape(l, 2500, 'pool', limits.convSamples, limits.representationFeatures, grid),
      ]),
    );
    assert.equal(byName.input.features, 243);
    assert.equal(byName.input.positions, undefined, 'the input is never reduced to its 3 colours');
    assert.match(byName.input.reductionDetail ?? '', /in every pair/);
    for (const [name, c] of [
      ['conv1', 32],
      ['conv2', 64],
      ['conv3', 64],
    ] as const) {
      assert.deepEqual(byName[name].positions, {
        samples: Math.min(2500 * 64, limits.convSamples),
        features: c,
      });
      assert.match(
        byName[name].reductionDetail ?? '',
        /^with conv layers: positions as samples on the 8×8 grid/,
      );
      assert.match(byName[name].reductionDetail ?? '', /with dense layers and the input: average-pooled/);
    }
    assert.equal(byName.fc1.positions, undefined);
    // an explicit convMode applies to every pair
    const chosen = normaliseExperimentSpec({
      name: 'cifar',
      reference: { dataset: 'cifar10', architecture: { preset: 'cifar10-conv' } },
      specimen: 'same',
      similarity: { convMode: 'mean' },
    });
    assert.equal(chosen.similarity.convPairs, 'same');
    assert.equal(captureOptions(chosen, limits).positionsGrid, undefined);
    // an MLP has no conv layer: its capture options (and so its run key) are unchanged
    const mlp = normaliseExperimentSpec({
      name: 'mlp',
      reference: { dataset: 'mnist', architecture: { preset: 'mnist-fc' } },
      specimen: 'same',
    });
    assert.equal('positionsGrid' in captureOptions(mlp, limits), false);
  });
});
