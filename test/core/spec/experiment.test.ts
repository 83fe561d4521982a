// Experiment spec normalisation (core/spec/experiment.ts): every default filled, methods in canonical
// order, errors inside a network named with its prefix, the conv mode chosen from the layer kinds, and
// the idempotency hash independent of key order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  captureOptions,
  type ExperimentSpec,
  normaliseExperimentSpec,
  specHash,
} from '../../../core/spec/experiment.ts';
import { type RunSpec, SpecError } from '../../../core/spec/run.ts';
import { tinySpec } from '../../helpers/spec.ts';

/** The API example's network (test/helpers/spec.ts). */
const MLP = tinySpec().reference as RunSpec;

function spec(overrides: Partial<ExperimentSpec> = {}): ExperimentSpec {
  return { name: 'tiny', reference: MLP, specimen: 'same', ...overrides };
}

function specError(fn: () => unknown, field: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SpecError, String(e));
    assert.equal(e.field, field, e.message);
    return true;
  });
}

describe('experiment spec normalisation', () => {
  it('fills every default: specimen "same" is null, probe and similarity settings complete', () => {
    const n = normaliseExperimentSpec(spec());
    assert.equal(n.name, 'tiny');
    assert.equal(n.specimen, null);
    assert.deepEqual(n.probe, { split: 'test', examples: n.probe.examples, seed: 0 });
    assert.ok(n.probe.examples > 0 && n.probe.examples <= 10_000, String(n.probe.examples));
    assert.deepEqual(n.similarity, {
      methods: ['cca', 'svcca', 'pwcca', 'cka'],
      svccaThreshold: 0.99,
      epsilon: 1e-10,
      convMode: 'positions',
      convPairs: 'same',
    });
    assert.equal(n.reference.training.steps, 8);
    // Net_S = Net_R: one network description serves both sides
    assert.deepEqual(n.networks.specimen, n.networks.reference);
    assert.deepEqual(
      n.networks.reference.layers.map((l) => l.name),
      ['input', 'fc1', 'fc2', 'logits'],
    );
  });

  it('keeps what the caller gave, with the methods in canonical order', () => {
    const n = normaliseExperimentSpec(
      spec({
        probe: { split: 'train', examples: 300, seed: 4 },
        similarity: { methods: ['cka', 'cca'], svccaThreshold: 0.9, epsilon: 1e-6 },
      }),
    );
    assert.deepEqual(n.probe, { split: 'train', examples: 300, seed: 4 });
    assert.deepEqual(n.similarity.methods, ['cca', 'cka']);
    assert.equal(n.similarity.svccaThreshold, 0.9);
    assert.equal(n.similarity.epsilon, 1e-6);
    // normalising is deterministic
    assert.deepEqual(
      normaliseExperimentSpec(spec({ similarity: { methods: ['cca', 'cka'] } })).similarity.methods,
      ['cca', 'cka'],
    );
  });

  it('normalises a separate specimen network, and names its fields with the specimen prefix', () => {
    const wide = {
      ...MLP,
      architecture: { type: 'mlp' as const, hidden: [64], activation: 'tanh' as const },
    };
    const n = normaliseExperimentSpec(spec({ specimen: wide }));
    assert.ok(n.specimen);
    assert.deepEqual(n.specimen.architecture, { type: 'mlp', hidden: [64], activation: 'tanh' });
    assert.deepEqual(
      n.networks.specimen.layers.map((l) => l.name),
      ['input', 'fc1', 'logits'],
    );
    specError(
      () => normaliseExperimentSpec(spec({ specimen: { ...MLP, training: { epochs: 1, steps: 3 } } })),
      'specimen.training',
    );
    specError(
      () => normaliseExperimentSpec(spec({ reference: { ...MLP, checkpoints: { steps: [100] } } })),
      'reference.checkpoints.steps',
    );
    specError(
      () => normaliseExperimentSpec(spec({ specimen: { ...MLP, dataset: 'fashion-mnist' } })),
      'specimen.dataset',
    );
    specError(() => normaliseExperimentSpec(spec({ probe: { examples: 20_000 } })), 'probe.examples');
  });

  it("chooses 'pool' with positions for conv-vs-conv pairs for conv nets with dense layers, and refuses 'positions' for all pairs", () => {
    const conv: RunSpec = { dataset: 'cifar10', architecture: { preset: 'cifar10-conv' } };
    assert.equal(normaliseExperimentSpec(spec({ reference: conv })).similarity.convMode, 'pool');
    assert.equal(
      normaliseExperimentSpec(spec({ reference: conv, similarity: { convMode: 'mean' } })).similarity
        .convMode,
      'mean',
    );
    specError(
      () => normaliseExperimentSpec(spec({ reference: conv, similarity: { convMode: 'positions' } })),
      'similarity.convMode',
    );
    // capture options carry the conv mode, the configured limits and the common positions grid of
    // the conv-vs-conv pairs (conv3's 8×8) (part of a run's key)
    const n = normaliseExperimentSpec(spec({ reference: conv }));
    assert.equal(n.similarity.convPairs, 'positions');
    assert.deepEqual(captureOptions(n, { representationFeatures: 4096, convSamples: 10_000 }), {
      convMode: 'pool',
      maxFeatures: 4096,
      maxSamples: 10_000,
      positionsGrid: [8, 8],
    });
  });

  it('hashes equal bodies equally whatever the key order, and different bodies differently', () => {
    const a = spec({ probe: { split: 'test', examples: 256, seed: 0 } });
    const b = JSON.parse(
      JSON.stringify({
        specimen: 'same',
        probe: { seed: 0, examples: 256, split: 'test' },
        reference: MLP,
        name: 'tiny',
      }),
    );
    assert.equal(specHash(a), specHash(b));
    assert.match(specHash(a), /^[0-9a-f]{64}$/);
    assert.notEqual(specHash(a), specHash({ ...a, name: 'other' }));
    assert.notEqual(specHash(a), specHash(spec({ probe: { split: 'test', examples: 256, seed: 1 } })));
  });
});
