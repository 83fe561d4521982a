// Estimates: the random baseline of the capturing phase is counted, and decompositions are priced by
// the engine that runs them (native LAPACK or JS).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkLimits,
  checkTensorLimits,
  checkUploadLimits,
  estimateExperiment,
  estimateTensor,
  type Limits,
  representationShape,
} from '../../core/estimate.ts';
import type { LayerInfo } from '../../core/nets/describe.ts';
import { type ExperimentSpec, normaliseExperimentSpec } from '../../core/spec/experiment.ts';
import { tinySpec } from '../helpers/spec.ts';

const LIMITS: Limits = {
  probeExamples: 10_000,
  trainExamples: 60_000,
  checkpoints: 100,
  representationFeatures: 4096,
  convSamples: 10_000,
  tensorCells: 100_000,
  memoryMB: 8192,
  seconds: 3600,
};

function tiny(overrides: Partial<ExperimentSpec> = {}) {
  return normaliseExperimentSpec({ ...(tinySpec() as ExperimentSpec), ...overrides });
}

describe('estimates', () => {
  const wide = { samples: 256, features: 4096 };
  const ref = [wide, wide];
  const spec = [wide, wide];

  it('count the random baseline (capture) next to the tensor', () => {
    for (const linalg of ['lapack', 'js'] as const) {
      const e = estimateTensor(ref, spec, 2, linalg);
      // baseline: 4 representations (2 reference, 2 specimen layers); tensor: 2 + 2 x 2 checkpoints
      assert.ok(e.seconds.capture > 0, 'the baseline costs time');
      assert.ok(Math.abs(e.seconds.tensor / e.seconds.capture - 6 / 4) < 0.05, JSON.stringify(e.seconds));
      assert.ok(Math.abs(e.seconds.total - (e.seconds.capture + e.seconds.tensor)) <= 0.1);
    }
  });

  it('price decompositions by the engine that runs them', () => {
    const lapack = estimateTensor(ref, spec, 2, 'lapack').seconds.total;
    const js = estimateTensor(ref, spec, 2, 'js').seconds.total;
    assert.ok(js > 20 * lapack, `${js} vs ${lapack}`);
    // issue 15's case on the native engine: 10 eigendecompositions of order 4096 at ~17 s each
    assert.ok(lapack > 100 && lapack < 300, String(lapack));
  });

  it("count each cell's permutation null: two products per cell, one per baseline pair", () => {
    // many samples, few features: each representation and each product costs u = 2 n d^2 / GEMM rate and
    // the decompositions are negligible. Baseline: 2 representations + 1 pair = 3u; tensor over one
    // checkpoint: 2 representations + 2 products (the cell and its null) = 4u.
    const tall = { samples: 2_500_000_000, features: 10 };
    const e = estimateTensor([tall], [tall], 1, 'lapack');
    assert.ok(Math.abs(e.seconds.tensor / e.seconds.capture - 4 / 3) < 0.01, JSON.stringify(e.seconds));
  });

  it('count uploaded representations on disk at 8 bytes per value (uploads may be float64)', () => {
    // 2 reference layers + 2 specimen layers × 2 checkpoints, each 256 × 4096 values of 8 bytes
    const e = estimateTensor(ref, spec, 2, 'lapack');
    assert.equal(e.diskMB, (6 * 256 * 4096 * 8) / 2 ** 20);
  });

  it('size an experiment from its networks: cells, the widest representation, time by phase', () => {
    const e = estimateExperiment(tiny(), LIMITS);
    // 4 layers (input, fc1, fc2, logits) on both sides x 4 checkpoints
    assert.equal(e.cells, 4 * 4 * 4);
    assert.equal(e.checkpoints, 4);
    assert.deepEqual(e.representation, { maxFeatures: 784, maxSamples: 256 });
    assert.ok(e.seconds.capture > 0 && e.seconds.tensor > 0, JSON.stringify(e.seconds));
    assert.ok(
      Math.abs(e.seconds.total - (e.seconds.training + e.seconds.capture + e.seconds.tensor)) <= 0.15,
    );
    assert.ok(e.memoryMB > 400 && e.diskMB > 0, JSON.stringify(e));
    // four times the training steps: four times the training time, the rest unchanged
    const one = estimateExperiment(tiny({ reference: mnistFc(1) }), LIMITS);
    const four = estimateExperiment(tiny({ reference: mnistFc(4) }), LIMITS);
    assert.ok(one.seconds.training > 10, JSON.stringify(one.seconds));
    assert.ok(
      Math.abs(four.seconds.training / one.seconds.training - 4) < 0.01,
      JSON.stringify(four.seconds),
    );
    assert.equal(four.seconds.tensor, one.seconds.tensor);
    assert.equal(four.cells, one.cells);
  });

  it('reduce conv layers by the conv mode', () => {
    const conv: LayerInfo = { name: 'conv1', kind: 'conv', shape: [8, 8, 16] } as LayerInfo;
    const dense: LayerInfo = { name: 'fc', kind: 'dense', shape: [32] } as LayerInfo;
    assert.deepEqual(representationShape(dense, 100, 'mean', 1000), {
      samples: 100,
      features: 32,
      reduction: 'none',
      reductionDetail: null,
    });
    assert.equal(representationShape(conv, 100, 'mean', 1000).features, 16);
    assert.equal(representationShape(conv, 100, 'flatten', 1000).features, 8 * 8 * 16);
    const positions = representationShape(conv, 100, 'positions', 1000);
    assert.deepEqual([positions.samples, positions.features], [1000, 16], 'positions capped at convSamples');
    const pool = representationShape(conv, 100, 'pool', 1000);
    assert.equal(pool.samples, 100);
    assert.ok(pool.features % 16 === 0 && pool.features <= 8 * 8 * 16, String(pool.features));
    assert.equal(typeof pool.reductionDetail, 'string');
  });

  it('name every limit exceeded, with the value and the limit', () => {
    const e = tiny();
    const est = estimateExperiment(e, LIMITS);
    assert.deepEqual(checkLimits(e, est, LIMITS), []);
    const tight = {
      ...LIMITS,
      probeExamples: 100,
      checkpoints: 3,
      representationFeatures: 100,
      tensorCells: 10,
    };
    const codes = checkLimits(e, est, tight).map((v) => [v.code, v.field, v.value, v.limit]);
    assert.deepEqual(codes, [
      ['LIMIT_PROBE_EXAMPLES', 'probe.examples', 256, 100],
      ['LIMIT_CHECKPOINTS', 'reference.checkpoints', 4, 3],
      ['LIMIT_REPRESENTATION_FEATURES', 'architecture', 784, 100],
      ['LIMIT_TENSOR_CELLS', 'tensor', 64, 10],
    ]);
    const slow = checkTensorLimits(
      { ...est, memoryMB: 9000.2, seconds: { ...est.seconds, total: 3600.1 } },
      LIMITS,
    );
    assert.deepEqual(
      slow.map((v) => [v.code, v.value]),
      [
        ['LIMIT_MEMORY', 9001],
        ['LIMIT_TIME', 3601],
      ],
    );
    assert.match(slow[1]!.message, /estimated seconds 3601 exceeds the limit 3600/);
    assert.deepEqual(
      checkUploadLimits({ samples: 20_000, checkpoints: 101, cells: 5 }, LIMITS).map((v) => v.field),
      ['samples', 'checkpoints'],
    );
  });
});

/** The paper's MNIST network over the whole training set for `epochs` epochs. */
function mnistFc(epochs: number) {
  return {
    dataset: 'mnist' as const,
    architecture: { type: 'mlp' as const, hidden: [500, 500, 500], activation: 'relu' as const },
    training: { epochs, batchSize: 128, trainExamples: 60_000, seed: 1 },
    checkpoints: { count: 4, spacing: 'log' as const },
  };
}
