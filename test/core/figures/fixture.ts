// A synthetic tensor shaped like the paper's MNIST MLP: the diagonal rises to 1 over training, and
// early on the top layer resembles lower final layers (a crawl).
import type { FigureData } from '../../../core/figures/types.ts';

export const LAYERS = ['input', 'fc1', 'fc2', 'fc3', 'logits'];
export const FRACTIONS = [0, 0.01, 0.03, 0.1, 0.3, 0.6, 0.99, 1];

export function syntheticTensor(
  options: { crawl?: boolean; layers?: string[]; fractions?: number[] } = {},
): FigureData {
  const layers = options.layers ?? LAYERS;
  const crawl = options.crawl ?? true;
  const top = layers.length - 2;
  const fractions = options.fractions ?? FRACTIONS;
  return {
    refLayers: layers,
    specLayers: layers,
    checkpoints: fractions.map((fraction, index) => ({ index, step: Math.round(fraction * 2000), fraction })),
    rho: (i, j, t) => {
      const f = fractions[t];
      if (j === 0) return i === 0 ? 1 : 0.9 - 0.15 * i;
      // layer j converges to its final self by fraction 0.1 * j
      const own = Math.min(1, 0.4 + (0.6 * f) / (0.1 * j));
      if (i === j) return own;
      if (crawl && j === top && f < 0.3 && i === j - 1) return Math.min(1, own + 0.2);
      return Math.max(0, own - 0.2 * Math.abs(i - j));
    },
    baseline: (i, j) => 0.1 + 0.01 * (i + j),
  };
}
