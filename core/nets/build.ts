// Builds a network as a pure function of tf.Variables (no tf.layers): the training loop owns the
// variables, the optimizer and the forward pass, so every recorded layer is reachable and the
// weights can be saved and restored exactly.
import * as tf from '@tensorflow/tfjs';
import { deriveSeed, Rng } from '../data/random.ts';
import type { Activation, Architecture, ResolvedArchitecture } from '../spec/run.ts';
import { conv2dSame } from './conv-op.ts';
import { describeNetwork, type LayerInfo } from './describe.ts';
import type { NamedArray } from './weights.ts';

export interface Network {
  /** Recorded layers in forward order (see describeNetwork). */
  readonly layers: LayerInfo[];
  /** Trainable variables in a fixed order: for each weighted layer its kernel, then its bias. */
  readonly variables: tf.Variable[];
  /** Stable names of `variables`: '<layer>/kernel', '<layer>/bias'. */
  readonly weightNames: string[];
  /** x: [n, h, w, c] → logits [n, classes]. */
  predict(x: tf.Tensor4D): tf.Tensor2D;
  /** x: [n, h, w, c] → the output of every layer in `layers` (input included), in order. */
  forwardAll(x: tf.Tensor4D): tf.Tensor[];
  /** Copies of the current weights. */
  getWeights(): NamedArray[];
  /** Overwrites the weights; names and shapes must match exactly. */
  setWeights(arrays: NamedArray[]): void;
  dispose(): void;
}

export interface BuiltNetwork {
  model: Network;
  layers: LayerInfo[];
}

interface WeightedLayer {
  name: string;
  kind: 'conv' | 'dense' | 'logits';
  kernel: tf.Variable;
  bias: tf.Variable;
  pool: number;
}

/** Glorot-uniform kernel from a seeded stream: limit sqrt(6 / (fanIn + fanOut)). */
function glorotUniform(shape: number[], fanIn: number, fanOut: number, seed: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const rng = new Rng(seed);
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.nextFloat() - 1) * limit;
  return out;
}

function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  if (activation === 'tanh') return tf.tanh(x);
  if (activation === 'sigmoid') return tf.sigmoid(x);
  if (activation === 'relu') return tf.relu(x);
  return x;
}

/**
 * Builds the network with deterministic initial weights: every kernel is Glorot-uniform from a
 * stream derived from (seed, layer name), biases start at zero. Same arguments → same weights.
 */
export function buildNetwork(
  architecture: Architecture | ResolvedArchitecture,
  inputShape: [number, number, number],
  classes: number,
  seed: number,
): BuiltNetwork {
  const { architecture: arch, layers } = describeNetwork(architecture, inputShape, classes);
  const weighted: WeightedLayer[] = [];
  const addLayer = (
    info: LayerInfo,
    kind: WeightedLayer['kind'],
    kernelShape: number[],
    fans: [number, number],
    pool = 1,
  ): void => {
    const units = kernelShape[kernelShape.length - 1];
    const init = glorotUniform(kernelShape, fans[0], fans[1], deriveSeed(seed, 'init', info.name));
    weighted.push({
      name: info.name,
      kind,
      kernel: tf.tidy(() => tf.variable(tf.tensor(init, kernelShape), true)),
      bias: tf.tidy(() => tf.variable(tf.zeros([units]), true)),
      pool,
    });
  };

  let features = arch.type === 'mlp' ? inputShape[0] * inputShape[1] * inputShape[2] : 0;
  let channels = inputShape[2];
  for (const info of layers) {
    if (info.kind === 'conv' && arch.type === 'conv') {
      const block = arch.conv[weighted.length];
      const k = block.kernel;
      addLayer(
        info,
        'conv',
        [k, k, channels, block.filters],
        [k * k * channels, k * k * block.filters],
        block.pool,
      );
      channels = block.filters;
      // Flattened size after this block's pooling; overwritten by each later conv block.
      features = Math.floor(info.shape[0] / block.pool) * Math.floor(info.shape[1] / block.pool) * channels;
    } else if (info.kind === 'dense' || info.kind === 'logits') {
      const units = info.shape[0];
      addLayer(info, info.kind, [features, units], [features, units]);
      features = units;
    }
  }

  const activation = arch.activation;
  const fusable = activation === 'relu' || activation === 'linear';

  const run = (x: tf.Tensor4D, record: boolean): { logits: tf.Tensor2D; outputs: tf.Tensor[] } => {
    const outputs: tf.Tensor[] = [];
    let h: tf.Tensor = arch.type === 'mlp' ? tf.reshape(x, [x.shape[0], -1]) : x;
    if (record) outputs.push(h);
    for (const layer of weighted) {
      const isLogits = layer.kind === 'logits';
      if (layer.kind === 'conv') {
        h = conv2dSame(
          h as tf.Tensor4D,
          layer.kernel as tf.Tensor4D,
          layer.bias as tf.Tensor1D,
          fusable ? (activation as 'relu' | 'linear') : 'linear',
          { inputGradient: layer !== weighted[0] },
        );
        if (!fusable) h = activate(h, activation);
        if (record) outputs.push(h);
        if (layer.pool > 1) h = tf.maxPool(h as tf.Tensor4D, layer.pool, layer.pool, 'valid');
        continue;
      }
      if (h.rank > 2) h = tf.reshape(h, [h.shape[0], -1]);
      const fusedActivation = isLogits ? 'linear' : activation === 'tanh' ? 'linear' : activation;
      h = tf.fused.matMul({
        a: h as tf.Tensor2D,
        b: layer.kernel as tf.Tensor2D,
        bias: layer.bias,
        activation: fusedActivation,
      });
      if (!isLogits && activation === 'tanh') h = tf.tanh(h);
      if (record) outputs.push(h);
    }
    return { logits: h as tf.Tensor2D, outputs };
  };

  const variables = weighted.flatMap((l) => [l.kernel, l.bias]);
  const weightNames = weighted.flatMap((l) => [`${l.name}/kernel`, `${l.name}/bias`]);

  const model: Network = {
    layers,
    variables,
    weightNames,
    predict: (x) => run(x, false).logits,
    forwardAll: (x) => run(x, true).outputs,
    getWeights: () =>
      variables.map((v, i) => ({
        name: weightNames[i],
        shape: [...v.shape],
        data: Float32Array.from(v.dataSync() as Float32Array),
      })),
    setWeights: (arrays) => {
      if (arrays.length !== variables.length) {
        throw new Error(`setWeights: expected ${variables.length} arrays, got ${arrays.length}`);
      }
      arrays.forEach((a, i) => {
        const v = variables[i];
        if (a.name !== weightNames[i] || a.shape.join(',') !== v.shape.join(',')) {
          throw new Error(
            `setWeights: '${a.name}' [${a.shape}] does not match '${weightNames[i]}' [${v.shape}]`,
          );
        }
        tf.tidy(() => v.assign(tf.tensor(a.data, a.shape)));
      });
    },
    dispose: () => {
      for (const v of variables) v.dispose();
    },
  };
  return { model, layers };
}
