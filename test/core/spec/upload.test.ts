// Upload spec normalisation (core/spec/upload.ts): fractions default to step / last step, steps and
// fractions must increase, 'pool' is refused, conv layers default to 'mean'; checkpoint addressing and
// the list of representations an experiment waits for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpecError } from '../../../core/spec/run.ts';
import {
  isUploadSpec,
  normaliseUploadSpec,
  requiredRepresentations,
  resolveUploadCheckpoint,
  type UploadExperimentSpec,
} from '../../../core/spec/upload.ts';

function upload(overrides: Partial<UploadExperimentSpec> = {}): UploadExperimentSpec {
  return {
    name: 'mine',
    source: 'upload',
    samples: 100,
    reference: { layers: ['conv1', 'fc', 'logits'] },
    specimen: 'same',
    checkpoints: [{ step: 0 }, { step: 50 }, { step: 200 }],
    ...overrides,
  };
}

function specError(fn: () => unknown, field: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SpecError, String(e));
    assert.equal(e.field, field, e.message);
    return true;
  });
}

describe('upload spec normalisation', () => {
  it('fills fractions from the steps and the similarity defaults (conv layers averaged)', () => {
    const u = normaliseUploadSpec(upload());
    assert.equal(u.same, true);
    assert.equal(u.samples, 100);
    assert.deepEqual(u.layers, { reference: ['conv1', 'fc', 'logits'], specimen: ['conv1', 'fc', 'logits'] });
    assert.deepEqual(u.checkpoints, [
      { index: 0, step: 0, fraction: 0 },
      { index: 1, step: 50, fraction: 0.25 },
      { index: 2, step: 200, fraction: 1 },
    ]);
    assert.deepEqual(u.similarity, {
      methods: ['cca', 'svcca', 'pwcca', 'cka'],
      svccaThreshold: 0.99,
      epsilon: 1e-10,
      convMode: 'mean',
      convPairs: 'same',
    });
  });

  it('keeps given fractions, and a single checkpoint at step 0 is the end of training', () => {
    const u = normaliseUploadSpec(upload({ checkpoints: [{ step: 10, fraction: 0.1 }, { step: 20 }] }));
    assert.deepEqual(
      u.checkpoints.map((c) => c.fraction),
      [0.1, 1],
    );
    assert.deepEqual(normaliseUploadSpec(upload({ checkpoints: [{ step: 0 }] })).checkpoints, [
      { index: 0, step: 0, fraction: 1 },
    ]);
  });

  it('rejects steps or fractions that go backwards and the pool conv mode, naming the field', () => {
    specError(
      () => normaliseUploadSpec(upload({ checkpoints: [{ step: 5 }, { step: 5 }] })),
      'checkpoints.1.step',
    );
    specError(
      () =>
        normaliseUploadSpec(
          upload({
            checkpoints: [
              { step: 1, fraction: 0.5 },
              { step: 2, fraction: 0.4 },
            ],
          }),
        ),
      'checkpoints.1.fraction',
    );
    specError(() => normaliseUploadSpec(upload({ similarity: { convMode: 'pool' } })), 'similarity.convMode');
    assert.equal(
      normaliseUploadSpec(upload({ similarity: { convMode: 'flatten' } })).similarity.convMode,
      'flatten',
    );
  });

  it('tells upload specs from trained ones', () => {
    assert.ok(isUploadSpec(upload()));
    assert.ok(!isUploadSpec({ name: 'x', reference: {}, specimen: 'same' }));
    assert.ok(!isUploadSpec(null));
    assert.ok(!isUploadSpec('upload'));
  });

  it('resolves checkpoint addresses: index, step-<n>, final; reference only as final', () => {
    const u = normaliseUploadSpec(upload());
    assert.deepEqual(resolveUploadCheckpoint(u, 'specimen', '1'), { index: 1 });
    assert.deepEqual(resolveUploadCheckpoint(u, 'specimen', 'step-200'), { index: 2 });
    assert.deepEqual(resolveUploadCheckpoint(u, 'specimen', 'final'), { index: 2 });
    assert.deepEqual(resolveUploadCheckpoint(u, 'reference', 'final'), { index: 0 });
    for (const [network, token, message] of [
      ['specimen', '3', /not an index below 3/],
      ['specimen', 'step-7', /no checkpoint declared with step 7/],
      ['specimen', 'latest', /not an index below 3/],
      ['reference', '0', /addressed as checkpoint 'final'/],
    ] as const) {
      const r = resolveUploadCheckpoint(u, network, token);
      assert.ok('error' in r, `${network}/${token}`);
      assert.match(r.error, message);
    }
  });

  it('waits for one representation per specimen checkpoint and layer, plus the reference layers of a separate network', () => {
    const same = requiredRepresentations(normaliseUploadSpec(upload()));
    assert.equal(same.length, 3 * 3);
    assert.ok(same.every((r) => r.network === 'specimen'));
    const separate = requiredRepresentations(
      normaliseUploadSpec(
        upload({ specimen: { layers: ['a', 'b'] }, checkpoints: [{ step: 1 }, { step: 2 }] }),
      ),
    );
    assert.deepEqual(separate, [
      { network: 'reference', checkpoint: 0, layer: 'conv1' },
      { network: 'reference', checkpoint: 0, layer: 'fc' },
      { network: 'reference', checkpoint: 0, layer: 'logits' },
      { network: 'specimen', checkpoint: 0, layer: 'a' },
      { network: 'specimen', checkpoint: 0, layer: 'b' },
      { network: 'specimen', checkpoint: 1, layer: 'a' },
      { network: 'specimen', checkpoint: 1, layer: 'b' },
    ]);
  });
});
