// Layer names and shapes of an architecture, computed without TensorFlow.js (for validation and
// size estimates).
import type { LayerInfo, NetworkDescription } from '../contracts/spec.ts';
import { type Architecture, type ResolvedArchitecture, resolveArchitecture } from '../spec/run.ts';

export type LayerKind = 'input' | 'dense' | 'conv' | 'logits';

/** A recorded layer and its network (core/contracts/spec.ts). */
export type { LayerInfo, NetworkDescription };

/**
 * Recorded layers in forward order. MLPs see the image flattened ([h*w*c]); conv nets see [h, w, c].
 * A conv layer's representation is its activation output (before pooling).
 */
export function describeNetwork(
  architecture: Architecture | ResolvedArchitecture,
  inputShape: [number, number, number],
  classes: number,
): NetworkDescription {
  const arch = resolveArchitecture(architecture);
  const [h0, w0, c0] = inputShape;
  const layers: LayerInfo[] = [];
  let parameters = 0;
  let flops = 0;
  let features: number;
  if (arch.type === 'mlp') {
    features = h0 * w0 * c0;
    layers.push({ name: 'input', kind: 'input', shape: [features] });
  } else {
    layers.push({ name: 'input', kind: 'input', shape: [h0, w0, c0] });
    let [h, w, c] = inputShape;
    arch.conv.forEach((block, i) => {
      parameters += block.kernel * block.kernel * c * block.filters + block.filters;
      flops += 2 * h * w * block.kernel * block.kernel * c * block.filters;
      c = block.filters;
      layers.push({ name: `conv${i + 1}`, kind: 'conv', shape: [h, w, c] });
      h = Math.floor(h / block.pool);
      w = Math.floor(w / block.pool);
      if (h < 1 || w < 1)
        throw new RangeError(`conv${i + 1}: pooling by ${block.pool} leaves no spatial extent`);
    });
    features = h * w * c;
  }
  const hidden = arch.type === 'mlp' ? arch.hidden : arch.dense;
  hidden.forEach((units, i) => {
    parameters += features * units + units;
    flops += 2 * features * units;
    features = units;
    layers.push({ name: `fc${i + 1}`, kind: 'dense', shape: [units] });
  });
  parameters += features * classes + classes;
  flops += 2 * features * classes;
  layers.push({ name: 'logits', kind: 'logits', shape: [classes] });
  return { architecture: arch, layers, parameters, flopsPerExample: flops };
}
