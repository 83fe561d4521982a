// Bottom-up convergence (the paper's Figure 2): for each layer, the first fraction of training at
// which its score against its own final version reaches a threshold, and whether that order follows
// depth (Spearman correlation of convergence time with depth). Decided only on evidence: the score
// is the adjusted score (rho against the cell's null) when the tensor has one, a layer reaching the
// threshold only at the final checkpoint has not converged (rho = 1 there by construction when
// Net_S = Net_R), layers that cannot be judged are left out with the reason, and the verdict is
// 'inconclusive' with a reason whenever the data cannot decide.
import type { Exclusion, ScoreName } from './evidence.ts';

export interface LayerConvergence {
  layer: string;
  depth: number;
  /** First checkpoint fraction before the final one with score ≥ threshold (null: never). */
  convergedAt: number | null;
  /** The checkpoint index where it converged (null: never). */
  checkpoint?: number | null;
  /** The score against its own final version at every checkpoint (the verdict's evidence). */
  scores?: Array<number | null>;
  /** Why the layer is left out of the verdict (absent: it is judged). */
  excluded?: string;
}

export interface ConvergenceAnalysis {
  threshold: number;
  layers: LayerConvergence[];
  /** Spearman rank correlation between depth and convergence fraction (NaN-free; null if < 3 layers). */
  spearman: number | null;
  verdict: 'bottom-up' | 'not-bottom-up' | 'inconclusive';
  /** Why the verdict is 'inconclusive' ("code: words"); null otherwise. */
  reason: string | null;
  /** The score compared with the threshold. */
  score: ScoreName;
  /** What was left out, and why. */
  excluded: Exclusion[];
  /** The numbers the verdict rests on. */
  evidence: { judged: string[]; converged: string[]; lastCheckpointCounted: boolean };
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
 * The default adjusted score that counts as converged: 0.8, about rho 0.9 (the threshold on raw rho
 * before the null existed) at the null of two 500-wide layers over 2,500 samples (0.447).
 */
export const DEFAULT_THRESHOLD = 0.8;

export interface ConvergenceOptions {
  /** score that counts as converged (default DEFAULT_THRESHOLD, 0.8) */
  threshold?: number;
  /** layers left out by name (default ['logits']: the paper finds the logit layer behaves differently) */
  exclude?: string[];
  /** layers left out for a stated reason (few samples, null near 1, …) */
  excludedLayers?: Exclusion[];
  /** cells that cannot be judged, by (layer position, checkpoint position) (e.g. null near 1) */
  uncountable?: (layer: number, t: number) => boolean;
  /** whether a cell stands above its null (default: always); only such cells can count as converged */
  aboveNull?: (layer: number, t: number) => boolean;
  /** the score's name (default 'rho') */
  score?: ScoreName;
  /** the final checkpoint's reason for not counting (default: it is the end of training) */
  finalReason?: string;
}

/**
 * scoreToFinal[l][t]: the score of layer l at checkpoint t against its own final version (the
 * adjusted score when the tensor has a null); fractions[t]: checkpoint fractions, ascending. The
 * input layer (always 1: it does not train) and layers in `exclude` are left out of the verdict, and
 * the final checkpoint never counts as converging.
 */
export function analyseConvergence(
  layers: string[],
  scoreToFinal: number[][],
  fractions: number[],
  options: ConvergenceOptions = {},
): ConvergenceAnalysis {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  const excluded: Exclusion[] = [];
  const excludedBy = new Map<string, string>();
  const leaveOut = (layer: string, code: string, reason: string) => {
    if (excludedBy.has(layer)) return;
    excludedBy.set(layer, `${code}: ${reason}`);
    excluded.push({ code, reason, layer });
  };
  for (const name of layers) {
    if (name === 'input')
      leaveOut(name, 'input', 'the input does not train: it equals its final version by construction');
  }
  for (const name of options.exclude ?? ['logits']) {
    if (layers.includes(name))
      leaveOut(name, 'excluded', `${name} is left out (the paper finds the logit layer behaves differently)`);
  }
  for (const e of options.excludedLayers ?? []) if (e.layer) leaveOut(e.layer, e.code, e.reason);

  const last = fractions.length - 1;
  if (last >= 0) {
    excluded.push({
      code: 'final-checkpoint',
      checkpoint: last,
      reason:
        options.finalReason ??
        'a layer that first reaches the threshold at the final checkpoint has not converged during training',
    });
  }
  const result: LayerConvergence[] = layers.map((layer, depth) => {
    const series = scoreToFinal[depth] ?? [];
    const counts = (t: number) => !options.uncountable?.(depth, t);
    let t = -1;
    for (let k = 0; k < last; k++) {
      const v = series[k];
      if (counts(k) && Number.isFinite(v) && v >= threshold && (options.aboveNull?.(depth, k) ?? true)) {
        t = k;
        break;
      }
    }
    const usable = series.some((v, k) => k < last && counts(k) && Number.isFinite(v));
    if (!usable && !excludedBy.has(layer) && last > 0)
      leaveOut(layer, 'null-near-one', `${layer} has no cell before the final checkpoint that can be judged`);
    const out: LayerConvergence = {
      layer,
      depth,
      convergedAt: t < 0 ? null : fractions[t],
      checkpoint: t < 0 ? null : t,
      scores: series.map((v, k) => (Number.isFinite(v) && counts(k) ? v : null)),
    };
    const why = excludedBy.get(layer);
    if (why) out.excluded = why;
    return out;
  });

  const judged = result.filter((l) => l.excluded === undefined);
  const converged = judged.filter((l) => l.convergedAt !== null);
  const times = judged.map((l) => l.convergedAt ?? 1);
  const rho = spearman(
    judged.map((l) => l.depth),
    times,
  );
  let verdict: ConvergenceAnalysis['verdict'] = 'inconclusive';
  let reason: string | null = null;
  const leftOut = excluded.filter((e) => e.layer && e.code !== 'input' && e.code !== 'excluded');
  if (judged.length < 2) {
    reason =
      leftOut.length > 0
        ? leftOut.map((e) => `${e.code}: ${e.reason}`).join('; ')
        : `too-few-layers: ${judged.length} layer(s) can be judged, the order needs 2`;
  } else if (converged.length === 0) {
    reason = `no-convergence: no layer's ${options.score ?? 'rho'} to its final version reaches ${threshold} before the final checkpoint`;
  } else if (rho !== null) {
    verdict = rho > 0.5 ? 'bottom-up' : rho < 0 ? 'not-bottom-up' : 'inconclusive';
    if (verdict === 'inconclusive')
      reason = `mixed-order: the Spearman correlation of convergence time with depth is ${rho.toFixed(2)} (bottom-up needs > 0.5)`;
  } else if (judged.length === 2) {
    verdict = times[0] < times[1] ? 'bottom-up' : times[0] > times[1] ? 'not-bottom-up' : 'inconclusive';
    if (verdict === 'inconclusive') reason = 'ties: the judged layers converge at the same checkpoint';
  } else {
    reason = 'ties: the judged layers converge at the same checkpoint';
  }
  return {
    threshold,
    layers: result,
    spearman: rho,
    verdict,
    reason,
    score: options.score ?? 'rho',
    excluded,
    evidence: {
      judged: judged.map((l) => l.layer),
      converged: converged.map((l) => l.layer),
      lastCheckpointCounted: false,
    },
  };
}
