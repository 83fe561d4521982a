// Bottom-up convergence (the paper's Figure 2): for each layer, the first fraction of training at
// which its similarity to its own final version reaches a threshold, and whether that order
// follows depth (Spearman correlation of convergence time with depth).

export interface LayerConvergence {
  layer: string;
  depth: number;
  /** First checkpoint fraction with rho ≥ threshold (null: never before the end). */
  convergedAt: number | null;
}

export interface ConvergenceAnalysis {
  threshold: number;
  layers: LayerConvergence[];
  /** Spearman rank correlation between depth and convergence fraction (NaN-free; null if < 3 layers). */
  spearman: number | null;
  verdict: 'bottom-up' | 'not-bottom-up' | 'inconclusive';
}

/** Average ranks (ties share the mean rank), 1-based. */
function ranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) out[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

export function spearman(x: number[], y: number[]): number | null {
  if (x.length !== y.length || x.length < 3) return null;
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (rx.length + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) ** 2;
    syy += (ry[i] - mean) ** 2;
  }
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
}

/**
 * rhoToFinal[l][t]: rho of layer l at checkpoint t against its own final version; fractions[t]:
 * checkpoint fractions. The input layer (always 1) and layers listed in `exclude` (e.g. logits,
 * which the paper finds behave differently) are left out of the verdict.
 */
export function analyseConvergence(
  layers: string[],
  rhoToFinal: number[][],
  fractions: number[],
  options: { threshold?: number; exclude?: string[] } = {},
): ConvergenceAnalysis {
  const threshold = options.threshold ?? 0.9;
  const exclude = new Set(['input', ...(options.exclude ?? ['logits'])]);
  const result: LayerConvergence[] = layers.map((layer, depth) => {
    const t = rhoToFinal[depth].findIndex((r) => r >= threshold);
    return { layer, depth, convergedAt: t < 0 ? null : fractions[t] };
  });
  const judged = result.filter((l) => !exclude.has(l.layer));
  const times = judged.map((l) => l.convergedAt ?? 1);
  const rho = spearman(
    judged.map((l) => l.depth),
    times,
  );
  let verdict: ConvergenceAnalysis['verdict'] = 'inconclusive';
  if (rho !== null && judged.length >= 2)
    verdict = rho > 0.5 ? 'bottom-up' : rho < 0 ? 'not-bottom-up' : 'inconclusive';
  else if (judged.length === 2)
    verdict = times[0] < times[1] ? 'bottom-up' : times[0] > times[1] ? 'not-bottom-up' : 'inconclusive';
  return { threshold, layers: result, spearman: rho, verdict };
}
