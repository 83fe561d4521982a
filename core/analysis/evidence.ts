// What the verdicts (convergence.ts, crawl.ts) count as evidence: the score they compare (the
// adjusted score, rho measured against the cell's own null), how far a score must stand above its
// null, and which comparisons they leave out because they are true by construction or cannot be
// judged. See the README section "How the verdicts are decided".
import type { FigureData } from '../tensor-data.ts';
import { adjustedScore, type LayerFacts, MIN_SAMPLES_PER_FEATURE, NULL_NEAR_ONE } from './warnings.ts';

export { MIN_SAMPLES_PER_FEATURE };

/** A score counts as above its null when it exceeds it by this many standard deviations of the null. */
export const Z_MIN = 3;

/** Two adjusted scores differ only when they are at least this far apart (and Z_MIN null deviations). */
export const MARGIN = 0.05;

/** Which score the verdicts compare. */
export type ScoreName = 'rho_adjusted' | 'rho_adjusted_gaussian' | 'rho';

/** Something the analysis left out, and why (e.g. code 'few-samples', 'trivial-checkpoint'). */
export interface Exclusion {
  code: string;
  reason: string;
  layer?: string;
  refLayer?: string;
  specLayer?: string;
  checkpoint?: number;
}

/** What the verdicts know besides the tensor. */
export interface AnalysisContext {
  /** Per layer: width, samples and (after the run) rank; absent: no layer is left out for its samples. */
  layers?: { reference: LayerFacts[]; specimen: LayerFacts[] };
  /** Net_S = Net_R: the specimen's final checkpoint is the reference itself (rho = 1 on the diagonal). */
  sameNetwork?: boolean;
}

/** One cell as the verdicts see it. */
export interface CellScore {
  rho: number | null;
  null: number | null;
  /** the compared score (adjusted when a null exists) */
  score: number | null;
  /** (rho - null) in standard deviations of the null; null when it cannot be computed */
  z: number | null;
  /** the null's standard deviation in units of the score; null when unknown */
  sd: number | null;
}

/**
 * Standard deviation of rho for unrelated representations of ranks p and q over n samples: the
 * squared CCA coefficients of two independent subspaces sum to tr(Px Py), whose variance for random
 * subspaces of R^N (N = n - 1 after centring) is 2pq(N-p)(N-q) / (N^2 (N-1)(N+2)); rho^2 = tr / min(p, q).
 */
export function nullSd(n: number, p: number, q: number, nullRho: number): number | null {
  const big = n - 1;
  if (!(p > 0 && q > 0 && big > 1) || !(nullRho > 0)) return null;
  const a = Math.min(p, big);
  const b = Math.min(q, big);
  const variance = (2 * a * b * (big - a) * (big - b)) / (big * big * (big - 1) * (big + 2));
  const sdRho2 = Math.sqrt(Math.max(0, variance)) / Math.min(a, b);
  return sdRho2 / (2 * nullRho);
}

/** The score the verdicts use for this tensor: adjusted against the permutation null when stored. */
export function scoreName(data: FigureData): ScoreName {
  if (data.rhoNull) return 'rho_adjusted';
  if (data.baseline) return 'rho_adjusted_gaussian';
  return 'rho';
}

/** The cell's rho, null, score and z (see scoreName for which null). */
export function cellScore(data: FigureData, i: number, j: number, t: number, samples?: number): CellScore {
  const rho = data.rho(i, j, t);
  const name = scoreName(data);
  const nullRho =
    name === 'rho_adjusted'
      ? (data.rhoNull?.(i, j, t) ?? null)
      : name === 'rho_adjusted_gaussian'
        ? (data.baseline?.(i, j) ?? null)
        : null;
  const score = name === 'rho' ? rho : adjustedScore(rho, nullRho);
  let z: number | null = null;
  let scoreSd: number | null = null;
  const ranks = data.ranks?.(i, j, t);
  if (rho !== null && nullRho !== null && ranks && samples) {
    const sd = nullSd(samples, ranks[0], ranks[1], nullRho);
    if (sd !== null && sd > 0) {
      z = (rho - nullRho) / sd;
      scoreSd = nullRho < 1 ? sd / (1 - nullRho) : null;
    } else if (sd === 0) {
      z = rho > nullRho + 1e-9 ? Number.POSITIVE_INFINITY : 0;
      scoreSd = 0;
    }
  }
  return { rho, null: nullRho, score, z, sd: scoreSd };
}

/** How far apart two scores must be to differ: MARGIN, or Z_MIN of their nulls' deviations if larger. */
export function marginBetween(a: CellScore, b: CellScore): number {
  const sa = a.sd ?? 0;
  const sb = b.sd ?? 0;
  return Math.max(MARGIN, Z_MIN * Math.sqrt(sa * sa + sb * sb));
}

/** True when the cell stands above its null: z ≥ Z_MIN when known, else its score ≥ MARGIN. */
export function aboveNull(c: CellScore): boolean {
  if (c.score === null) return false;
  if (c.z !== null) return c.z >= Z_MIN && c.score > 0;
  return c.score >= MARGIN;
}

/** True when the cell cannot be judged: its null is itself near 1. */
export function nullNearOne(c: CellScore): boolean {
  return c.null !== null && c.null >= NULL_NEAR_ONE;
}

/** How many samples per kept direction a layer has, and whether that is enough for a verdict. */
export function tooFewForVerdict(layer: LayerFacts): boolean {
  const width =
    layer.rank !== undefined && layer.rank > 0 && layer.rank < layer.samples - 1 ? layer.rank : layer.width;
  return width > 0 && layer.samples < MIN_SAMPLES_PER_FEATURE * width;
}

/** The layer facts of one network's layer by name, if known. */
export function factsOf(
  ctx: AnalysisContext,
  network: 'reference' | 'specimen',
  name: string,
): LayerFacts | undefined {
  return ctx.layers?.[network].find((l) => l.name === name);
}

/** The number of probe samples (from the layer facts), if known. */
export function samplesOf(ctx: AnalysisContext): number | undefined {
  const all = [...(ctx.layers?.reference ?? []), ...(ctx.layers?.specimen ?? [])];
  return all.length > 0 ? Math.min(...all.map((l) => l.samples)) : undefined;
}

/** The input layer: named 'input' (the data itself, the same in both networks and at every checkpoint). */
export function isInput(name: string): boolean {
  return name === 'input';
}
