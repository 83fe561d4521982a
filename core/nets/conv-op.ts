// 2-D convolution (stride 1, 'same' padding, NHWC) with bias and activation, whose gradients are
// themselves forward convolutions. The wasm backend has no Conv2DBackpropFilter kernel and a slow
// scalar Conv2DBackpropInput (~2.5 GFLOP/s against ~36 GFLOP/s for its XNNPACK forward conv), so
// expressing both gradients as forward convs makes conv training feasible there; on every backend
// the result is the exact gradient.
import * as tf from '@tensorflow/tfjs';

export type FusableActivation = 'relu' | 'linear';

/**
 * y = act(conv2d(x, w, stride 1, 'same') + b)
 *   x: [n, h, w, ci]   w: [k, k, ci, co]   b: [co]   y: [n, h, w, co]
 * For 'same' padding with stride 1 the input is padded by top = floor((k-1)/2), bottom = k-1-top
 * (likewise left/right), as tf.conv2d does. With inputGradient false the gradient for x is zeros.
 */
export function conv2dSame(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  b: tf.Tensor1D,
  activation: FusableActivation,
  options: { inputGradient?: boolean } = {},
): tf.Tensor4D {
  // The first layer's input is data: its gradient is never used, so skip that convolution.
  const inputGradient = options.inputGradient ?? true;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x4, w4, b1, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
    const y = tf.fused.conv2d({ x: x4, filter: w4, strides: 1, pad: 'same', bias: b1, activation });
    save([x4, w4, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws, ys] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        // dz: gradient at the pre-activation, [n, h, w, co]
        const dz = (activation === 'relu' ? tf.mul(dy, tf.step(ys)) : dy) as tf.Tensor4D;
        const k = ws.shape[0];
        const top = Math.floor((k - 1) / 2);
        const bottom = k - 1 - top;
        // dW[a, b, ci, co] = Σ_{n,i,j} xpad[n, i+a, j+b, ci] · dz[n, i, j, co]: a valid conv of
        // xpad^T [ci, hp, wp, n] with dz^T [h, w, n, co] as the filter → [ci, k, k, co].
        const xPadT = tf.transpose(
          tf.pad(xs, [
            [0, 0],
            [top, bottom],
            [top, bottom],
            [0, 0],
          ]),
          [3, 1, 2, 0],
        ) as tf.Tensor4D;
        const dzT = tf.transpose(dz, [1, 2, 0, 3]) as tf.Tensor4D;
        const dw = tf.transpose(tf.conv2d(xPadT, dzT, 1, 'valid'), [1, 2, 0, 3]);
        // dx = valid conv of dz padded by (bottom, top) with the kernel flipped spatially and its
        // channel axes swapped: [k, k, co, ci].
        if (!inputGradient) return [tf.zerosLike(xs), dw, tf.sum(dz, [0, 1, 2])];
        const dzPad = tf.pad(dz, [
          [0, 0],
          [bottom, top],
          [bottom, top],
          [0, 0],
        ]) as tf.Tensor4D;
        const wFlip = tf.transpose(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
        const dx = tf.conv2d(dzPad, wFlip, 1, 'valid');
        const db = tf.sum(dz, [0, 1, 2]);
        return [dx, dw, db];
      },
    };
  });
  return op(x, w, b) as tf.Tensor4D;
}
