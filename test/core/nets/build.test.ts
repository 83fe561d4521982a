import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildNetwork } from '../../../core/nets/build.ts';
import { conv2dSame } from '../../../core/nets/conv-op.ts';
import { describeNetwork } from '../../../core/nets/describe.ts';
import { decodeArrays, encodeArrays } from '../../../core/nets/weights.ts';
import type { MlpArchitecture } from '../../../core/spec/run.ts';
import { initBackend } from '../../../core/tf/backend.ts';

let backend: string;
before(async () => {
  backend = (await initBackend()).tfBackend;
});

describe('presets', () => {
  it('mnist-fc: input, fc1-fc3 of 500, logits', () => {
    const d = describeNetwork({ preset: 'mnist-fc' }, [28, 28, 1], 10);
    assert.deepEqual(
      d.layers.map((l) => [l.name, l.kind, l.shape]),
      [
        ['input', 'input', [784]],
        ['fc1', 'dense', [500]],
        ['fc2', 'dense', [500]],
        ['fc3', 'dense', [500]],
        ['logits', 'logits', [10]],
      ],
    );
    assert.equal(d.parameters, 784 * 500 + 500 + 2 * (500 * 500 + 500) + 500 * 10 + 10);
  });

  it('cifar10-conv: named conv layers with their shapes, and a matching built network', () => {
    const d = describeNetwork({ preset: 'cifar10-conv' }, [32, 32, 3], 10);
    const expected = [
      ['input', 'input', [32, 32, 3]],
      ['conv1', 'conv', [32, 32, 32]],
      ['conv2', 'conv', [16, 16, 64]],
      ['conv3', 'conv', [8, 8, 64]],
      ['fc1', 'dense', [128]],
      ['logits', 'logits', [10]],
    ];
    assert.deepEqual(
      d.layers.map((l) => [l.name, l.kind, l.shape]),
      expected,
    );
    const { model, layers } = buildNetwork({ preset: 'cifar10-conv' }, [32, 32, 3], 10, 0);
    assert.deepEqual(layers, d.layers);
    const outs = tf.tidy(() => model.forwardAll(tf.zeros([2, 32, 32, 3])));
    assert.deepEqual(
      outs.map((o) => o.shape),
      expected.map((e) => [2, ...(e[2] as number[])]),
    );
    assert.equal(
      model.variables.reduce((n, v) => n + v.size, 0),
      d.parameters,
    );
    tf.dispose(outs);
    model.dispose();
  });
});

describe('buildNetwork', () => {
  it('initialises deterministically from the seed; weights round-trip through the container', () => {
    const arch: MlpArchitecture = { type: 'mlp', hidden: [8, 4], activation: 'tanh' };
    const a = buildNetwork(arch, [4, 4, 1], 3, 11).model;
    const b = buildNetwork(arch, [4, 4, 1], 3, 11).model;
    const c = buildNetwork(arch, [4, 4, 1], 3, 12).model;
    assert.deepEqual(a.getWeights(), b.getWeights());
    assert.notDeepEqual(a.getWeights()[0].data, c.getWeights()[0].data);
    assert.deepEqual(a.weightNames, [
      'fc1/kernel',
      'fc1/bias',
      'fc2/kernel',
      'fc2/bias',
      'logits/kernel',
      'logits/bias',
    ]);
    c.setWeights(decodeArrays(encodeArrays(a.getWeights())));
    assert.deepEqual(c.getWeights(), a.getWeights());
    for (const m of [a, b, c]) m.dispose();
  });

  it('conv2dSame gradients equal the reference conv2d gradients (cpu backend)', async () => {
    for (const k of [3, 4]) {
      const x = tf.randomNormal([2, 6, 5, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
      const b = tf.randomNormal([4], 0, 1, 'float32', 3) as tf.Tensor1D;
      const r = tf.randomNormal([2, 6, 5, 4], 0, 1, 'float32', 4);
      const ours = tf.grads((x, w, b) =>
        tf.sum(tf.mul(conv2dSame(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, 'relu'), r)),
      )([x, w, b]);
      const oursValues = ours.map((g) => g.arraySync());
      await tf.setBackend('cpu');
      const reference = tf.grads((x, w, b) =>
        tf.sum(tf.mul(tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), b)), r)),
      )([x, w, b]);
      const refValues = reference.map((g) => g.arraySync());
      tf.dispose(reference);
      await tf.setBackend(backend);
      oursValues.forEach((g, i) => {
        const flatA = (g as number[]).flat(4) as number[];
        const flatB = (refValues[i] as number[]).flat(4) as number[];
        flatA.forEach((v, j) => {
          assert.ok(Math.abs(v - flatB[j]) < 1e-4, `k=${k} grad ${i}[${j}]: ${v} vs ${flatB[j]}`);
        });
      });
      tf.dispose([x, w, b, r, ...ours]);
    }
  });
});
