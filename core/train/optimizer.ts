// SGD with momentum and Adam over an explicit variable list. Written here rather than taken from
// tf.train so that the whole optimizer state (slots + step count) can be saved and restored
// bit-exactly: tf's Adam recomputes beta^t with pow() on restore, which differs in the last bits
// from the running product it keeps while training.
import * as tf from '@tensorflow/tfjs';
import type { NamedArray } from '../nets/weights.ts';
import type { ResolvedOptimizer } from '../spec/run.ts';

export interface Optimizer {
  /** Applies one update from grads (same order as the variables). Call inside tf.tidy. */
  apply(grads: tf.Tensor[]): void;
  /** Slots and the step count, for a checkpoint. */
  getState(): NamedArray[];
  setState(state: NamedArray[]): void;
  dispose(): void;
}

function zerosLike(vars: tf.Variable[]): tf.Variable[] {
  return vars.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
}

function readSlots(prefix: string, slots: tf.Variable[], names: string[]): NamedArray[] {
  return slots.map((s, i) => ({
    name: `${prefix}/${names[i]}`,
    shape: [...s.shape],
    data: Float32Array.from(s.dataSync() as Float32Array),
  }));
}

function writeSlots(prefix: string, slots: tf.Variable[], names: string[], state: NamedArray[]): void {
  slots.forEach((s, i) => {
    const name = `${prefix}/${names[i]}`;
    const saved = state.find((a) => a.name === name);
    if (!saved || saved.shape.join(',') !== s.shape.join(','))
      throw new Error(`optimizer state lacks '${name}'`);
    tf.tidy(() => s.assign(tf.tensor(saved.data, saved.shape)));
  });
}

/**
 * vars: the trainable variables, names: their stable names (used as keys in the saved state).
 * SGD:  v ← μ·v + g;  w ← w − lr·v   (plain w ← w − lr·g when μ = 0)
 * Adam: t ← t+1; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
 *       w ← w − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)   (bias corrections in float64 from t)
 */
export function createOptimizer(config: ResolvedOptimizer, vars: tf.Variable[], names: string[]): Optimizer {
  let step = 0;
  const lr = tf.scalar(config.learningRate);
  if (config.type === 'sgd') {
    const mu = tf.scalar(config.momentum);
    const velocity = config.momentum > 0 ? zerosLike(vars) : [];
    return {
      apply(grads) {
        grads.forEach((g, i) => {
          if (velocity.length === 0) {
            vars[i].assign(tf.sub(vars[i], tf.mul(lr, g)));
            return;
          }
          const v = tf.add(tf.mul(mu, velocity[i]), g);
          velocity[i].assign(v);
          vars[i].assign(tf.sub(vars[i], tf.mul(lr, v)));
        });
        step++;
      },
      getState: () => [
        { name: 'step', shape: [1], data: Float32Array.of(step) },
        ...readSlots('velocity', velocity, names),
      ],
      setState(state) {
        step = stepFrom(state);
        writeSlots('velocity', velocity, names, state);
      },
      dispose() {
        tf.dispose([lr, mu, ...velocity]);
      },
    };
  }
  const { beta1, beta2, epsilon } = config;
  const b1 = tf.scalar(beta1);
  const b2 = tf.scalar(beta2);
  const oneMinusB1 = tf.scalar(1 - beta1);
  const oneMinusB2 = tf.scalar(1 - beta2);
  const eps = tf.scalar(epsilon);
  const m = zerosLike(vars);
  const v = zerosLike(vars);
  return {
    apply(grads) {
      step++;
      const c1 = tf.scalar(1 / (1 - beta1 ** step));
      const c2 = tf.scalar(1 / (1 - beta2 ** step));
      grads.forEach((g, i) => {
        const mi = tf.add(tf.mul(b1, m[i]), tf.mul(oneMinusB1, g));
        const vi = tf.add(tf.mul(b2, v[i]), tf.mul(oneMinusB2, tf.square(g)));
        m[i].assign(mi);
        v[i].assign(vi);
        const update = tf.div(tf.mul(mi, c1), tf.add(tf.sqrt(tf.mul(vi, c2)), eps));
        vars[i].assign(tf.sub(vars[i], tf.mul(lr, update)));
      });
    },
    getState: () => [
      { name: 'step', shape: [1], data: Float32Array.of(step) },
      ...readSlots('m', m, names),
      ...readSlots('v', v, names),
    ],
    setState(state) {
      step = stepFrom(state);
      writeSlots('m', m, names, state);
      writeSlots('v', v, names, state);
    },
    dispose() {
      tf.dispose([lr, b1, b2, oneMinusB1, oneMinusB2, eps, ...m, ...v]);
    },
  };
}

function stepFrom(state: NamedArray[]): number {
  const s = state.find((a) => a.name === 'step');
  if (!s) throw new Error(`optimizer state lacks 'step'`);
  return s.data[0];
}
