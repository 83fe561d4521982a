// The 'conv-reduction' warning: how each conv-shaped layer became a [samples, features] matrix. CCA
// on a reduced layer compares that reduction, not the layer itself, so every figure, page and analysis
// says which one was used.
import type { PairReduction } from '../contracts/summary.ts';
import { positionsName } from '../train/store.ts';
import type { AnalysisWarning } from './warnings.ts';

/** A recorded layer as stored (Layer rows; reduction null on layers recorded before it was). */
export interface ReducedLayer {
  network: 'reference' | 'specimen';
  name: string;
  reduction: string | null;
  reductionDetail: string | null;
}

const WHY: Record<string, string> = {
  positions: "the paper's treatment",
  pool: 'the network mixes conv and dense layers: a pair with a dense layer needs one sample per example, so positions cannot be samples there',
  mean: 'global average pooling: the spatial layout is lost',
  flatten: 'every (position, channel) is a feature',
};

/**
 * One 'conv-reduction' warning per conv-shaped layer (reduction other than 'none'); a layer reduced
 * the same way in both networks (Net_S = Net_R, or equal architectures) is named once, without network.
 */
export function convReductionWarnings(layers: ReducedLayer[]): AnalysisWarning[] {
  const out: AnalysisWarning[] = [];
  const seen = new Map<string, AnalysisWarning>();
  for (const l of layers) {
    if (l.reduction === null || l.reduction === 'none') continue;
    const key = `${l.name}\u0000${l.reduction}\u0000${l.reductionDetail}`;
    const earlier = seen.get(key);
    if (earlier) {
      if (earlier.network !== l.network) delete earlier.network;
      continue;
    }
    const why = WHY[l.reduction] ? ` (${WHY[l.reduction]})` : '';
    const warning: AnalysisWarning = {
      code: 'conv-reduction',
      network: l.network,
      layer: l.name,
      message: `conv layer '${l.name}': ${l.reductionDetail ?? l.reduction}${why}`,
    };
    seen.set(key, warning);
    out.push(warning);
  }
  return out;
}

/** What a pairing pass needs to know of a recorded layer (core/train/store.ts RepresentationInfo). */
export interface PassLayer {
  name: string;
  features: number;
  samples: number;
  positions?: { samples: number; features: number };
}

/**
 * One pass of the tensor builder over some (reference layer, specimen layer) pairs: which pairs, the
 * artifact each layer's representation is stored under, and the random baseline's samples and widths.
 * 'layers': each layer's own representation (dense layers; conv layers reduced by the conv mode).
 * 'positions': conv-vs-conv pairs, both layers as positions-as-samples on the common grid.
 */
export interface PairPass {
  reduction: 'layers' | 'positions';
  pair: (refLayer: number, specLayer: number) => boolean;
  artifact: (layer: string) => string;
  samples: number;
  refWidths: number[];
  specWidths: number[];
}

/**
 * The passes that cover every pair once: conv-vs-conv pairs (both layers with a positions
 * representation) on positions, every other pair on the layers' own representations.
 */
export function convPairPasses(ref: PassLayer[], spec: PassLayer[]): PairPass[] {
  const positions = (i: number, j: number) =>
    ref[i]?.positions !== undefined && spec[j]?.positions !== undefined;
  const passes: PairPass[] = [
    {
      reduction: 'layers',
      pair: (i, j) => !positions(i, j),
      artifact: (name) => name,
      samples: ref[0]?.samples ?? spec[0]?.samples ?? 0,
      refWidths: ref.map((l) => l.features),
      specWidths: spec.map((l) => l.features),
    },
  ];
  const first = ref.find((l) => l.positions)?.positions;
  if (first && spec.some((l) => l.positions)) {
    passes.push({
      reduction: 'positions',
      pair: positions,
      artifact: positionsName,
      samples: first.samples,
      refWidths: ref.map((l) => l.positions?.features ?? l.features),
      specWidths: spec.map((l) => l.positions?.features ?? l.features),
    });
  }
  return passes;
}

/** How the pairs were reduced, for the experiment's summary (one entry per pass; core/contracts/summary.ts). */
export type { PairReduction };

export function pairReductionSummary(
  passes: PairPass[],
  ref: PassLayer[],
  spec: PassLayer[],
): PairReduction[] {
  return passes.map((p) => {
    let pairs = 0;
    for (let i = 0; i < ref.length; i++) for (let j = 0; j < spec.length; j++) if (p.pair(i, j)) pairs++;
    const conv = [...new Set([...ref, ...spec].filter((l) => l.positions).map((l) => l.name))];
    return {
      reduction: p.reduction,
      pairs,
      samples: p.samples,
      detail:
        p.reduction === 'positions'
          ? `conv-vs-conv pairs (${conv.join(', ')}): positions as samples on a common grid, ${p.samples} (example, position) rows, the same in every layer`
          : conv.length > 0
            ? `pairs with a dense layer or the input: each layer's own representation (conv layers pooled), ${p.samples} samples`
            : `every pair: each layer's own representation, ${p.samples} samples`,
    };
  });
}
