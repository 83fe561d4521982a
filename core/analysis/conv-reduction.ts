// The 'conv-reduction' warning: how each conv-shaped layer became a [samples, features] matrix. CCA
// on a reduced layer compares that reduction, not the layer itself, so every figure, page and analysis
// says which one was used.
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
  pool: 'the network mixes conv and dense layers, so positions cannot be samples (dense layers have one sample per example)',
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
