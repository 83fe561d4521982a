import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import {
  checkpointSteps,
  normaliseProbeSpec,
  normaliseRunSpec,
  ProbeSpecSchema,
  type RunSpec,
  RunSpecSchema,
  runKey,
  SpecError,
} from '../../../core/spec/run.ts';

const API_EXAMPLE = JSON.parse(
  '{"dataset": "mnist", "architecture": {"type": "mlp", "hidden": [32, 32], "activation": "relu"}, "training": {"epochs": 1, "batchSize": 64, "trainExamples": 512, "seed": 1, "optimizer": {"type": "sgd", "learningRate": 0.05, "momentum": 0.9}}, "checkpoints": {"count": 4, "spacing": "log"}}',
) as RunSpec;
const capture = { convMode: 'positions', maxFeatures: 4096, maxSamples: 10000 } as const;

describe('run spec', () => {
  it('accepts the API example and a preset', () => {
    assert.ok(Value.Check(RunSpecSchema, API_EXAMPLE));
    assert.ok(Value.Check(RunSpecSchema, { dataset: 'mnist', architecture: { preset: 'mnist-fc' } }));
    assert.ok(Value.Check(ProbeSpecSchema, { split: 'test', examples: 256, seed: 0 }));
    assert.ok(!Value.Check(RunSpecSchema, { ...API_EXAMPLE, extra: 1 }));
    assert.ok(!Value.Check(RunSpecSchema, { ...API_EXAMPLE, dataset: 'imagenet' }));
  });

  it('normalises deterministically: epochs → steps, schedule → explicit steps', () => {
    const n = normaliseRunSpec(API_EXAMPLE);
    assert.equal(n.training.steps, 8); // 512 / 64
    assert.deepEqual(n.checkpoints.steps, [0, 1, 7, 8]);
    assert.deepEqual(n.architecture, { type: 'mlp', hidden: [32, 32], activation: 'relu' });
    // Idempotent, and the normalised form validates against the input schema.
    assert.ok(Value.Check(RunSpecSchema, n));
    assert.deepEqual(normaliseRunSpec(n), n);
    // The same run written with steps and explicit checkpoints has the same key.
    const probe = normaliseProbeSpec({}, 'mnist');
    const explicit = normaliseRunSpec({
      ...API_EXAMPLE,
      training: { ...API_EXAMPLE.training, epochs: undefined, steps: 8 },
      checkpoints: { steps: [1, 7] },
    });
    assert.equal(runKey(explicit, probe, capture), runKey(n, probe, capture));
    const otherSeed = normaliseRunSpec({ ...API_EXAMPLE, training: { ...API_EXAMPLE.training, seed: 2 } });
    assert.notEqual(runKey(otherSeed, probe, capture), runKey(n, probe, capture));
    assert.match(runKey(n, probe, capture), /^[0-9a-f]{64}$/);
  });

  it('expands presets with their training defaults, user fields winning', () => {
    const n = normaliseRunSpec({ dataset: 'mnist', architecture: { preset: 'mnist-fc' } });
    assert.deepEqual(n.architecture, { type: 'mlp', hidden: [500, 500, 500], activation: 'relu' });
    assert.equal(n.training.steps, 10 * Math.ceil(60000 / 128));
    assert.equal(n.checkpoints.steps.length, 20);
    const short = normaliseRunSpec({
      dataset: 'mnist',
      architecture: { preset: 'mnist-fc' },
      training: { steps: 50 },
    });
    assert.equal(short.training.steps, 50);
    assert.equal(short.training.batchSize, 128);
  });

  it('rejects inconsistent specs naming the field', () => {
    assert.throws(
      () => normaliseRunSpec({ ...API_EXAMPLE, training: { epochs: 1, steps: 3 } }),
      (e: unknown) => e instanceof SpecError && e.field === 'training',
    );
    assert.throws(
      () => normaliseRunSpec({ ...API_EXAMPLE, checkpoints: { steps: [100] } }),
      (e: unknown) => e instanceof SpecError && e.field === 'checkpoints.steps',
    );
    assert.throws(
      () => normaliseProbeSpec({ examples: 20000 }, 'mnist'),
      (e: unknown) => e instanceof SpecError && e.field === 'probe.examples',
    );
  });
});

describe('checkpoint schedule', () => {
  it('always contains step 0 and the last step, strictly increasing, with the requested count', () => {
    for (const spacing of ['log', 'linear'] as const) {
      for (const [count, total] of [
        [2, 10],
        [4, 8],
        [20, 4690],
        [20, 25],
        [5, 4],
      ]) {
        const steps = checkpointSteps({ count, spacing }, total);
        assert.equal(steps[0], 0);
        assert.equal(steps[steps.length - 1], total);
        assert.equal(steps.length, Math.min(count, total + 1));
        for (let i = 1; i < steps.length; i++) assert.ok(steps[i] > steps[i - 1], `${spacing} ${steps}`);
      }
    }
    assert.deepEqual(checkpointSteps({ count: 5, spacing: 'linear' }, 100), [0, 33, 66, 99, 100]);
    assert.deepEqual(checkpointSteps({ count: 5, spacing: 'log' }, 1000), [0, 1, 31, 990, 1000]);
    assert.deepEqual(checkpointSteps({ steps: [50, 5, 5] }, 100), [0, 5, 50, 100]);
  });

  it("log and linear schedules hold a ~99 % checkpoint distinct from the final one (the paper's last panel)", () => {
    for (const spacing of ['log', 'linear'] as const) {
      for (const [count, total] of [
        [12, 938],
        [20, 4690],
        [4, 300],
        [3, 50],
        [30, 40],
      ]) {
        const steps = checkpointSteps({ count, spacing }, total);
        const late = steps[steps.length - 2];
        assert.ok(late < total, `${spacing} ${count}/${total}: ${steps}`);
        assert.ok(late / total >= 0.97, `${spacing} ${count}/${total}: second-to-last ${late} of ${total}`);
      }
    }
    // the demo's schedule keeps early log-spaced checkpoints and gains step 928 of 938 (98.9 %)
    assert.deepEqual(
      checkpointSteps({ count: 12, spacing: 'log' }, 938),
      [0, 1, 2, 5, 10, 21, 45, 95, 203, 434, 928, 938],
    );
  });
});
