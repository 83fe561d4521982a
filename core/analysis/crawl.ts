// Top-down "crawl" (the paper's Figure 3): follow one top specimen layer through training and, at
// each checkpoint, name the final reference layer it is most similar to. The paper finds that
// early in training a top layer resembles *lower* final layers: what is first learnt high up is
// later squeezed down. Verdict 'crawl' when most early checkpoints (fraction ≤ 1/3) point below
// the layer's own depth.
import type { FigureData } from '../figures/types.ts';
import { analyseConvergence, type ConvergenceAnalysis } from './convergence.ts';

export interface CrawlStep {
  checkpoint: number;
  fraction: number;
  /** the final reference layer with the largest rho (null: no rho at this checkpoint) */
  mostSimilar: string | null;
  /** that largest rho */
  rho: number | null;
  /** rho against every final reference layer, by name */
  rhoByLayer: Record<string, number | null>;
}

export interface CrawlAnalysis {
  layer: string;
  /** depth the layer is compared with: its own reference index (same name) or its relative depth */
  depth: number;
  steps: CrawlStep[];
  /** 'inconclusive': no early checkpoint has any rho */
  verdict: 'crawl' | 'no-crawl' | 'inconclusive';
}

/** Checkpoints with at most this fraction of training count as "early". */
export const EARLY_FRACTION = 1 / 3;

/** rho values this close to the largest count as tied with it. */
export const TIE_TOLERANCE = 1e-6;

/** The specimen layer the crawl follows by default: the last one below 'logits' (else the last). */
export function defaultTopLayer(specLayers: string[]): string | undefined {
  const logits = specLayers.lastIndexOf('logits');
  if (logits > 0) return specLayers[logits - 1];
  return specLayers[specLayers.length - 1];
}

export function analyseCrawl(data: FigureData, layer = defaultTopLayer(data.specLayers)): CrawlAnalysis {
  const j = layer === undefined ? -1 : data.specLayers.indexOf(layer);
  if (layer === undefined || j < 0) throw new RangeError(`no specimen layer named ${layer}`);
  const sameName = data.refLayers.indexOf(layer);
  // different networks: map relative depth of the specimen layer onto the reference layers
  const depth =
    sameName >= 0
      ? sameName
      : Math.round((j * (data.refLayers.length - 1)) / Math.max(1, data.specLayers.length - 1));
  const steps: CrawlStep[] = data.checkpoints.map((c) => {
    const rhoByLayer: Record<string, number | null> = {};
    const rhos = data.refLayers.map((name, i) => {
      const r = data.rho(i, j, c.index);
      rhoByLayer[name] = r;
      return r !== null && Number.isFinite(r) ? r : null;
    });
    const bestRho = rhos.reduce<number | null>((m, r) => (r !== null && (m === null || r > m) ? r : m), null);
    // Ties (within TIE_TOLERANCE) go to the layer nearest the followed layer's own depth, the deeper
    // one on equal distance: with fewer probe samples than input pixels, rho(input, ·) is a
    // spurious 1, which must not read as a crawl.
    let best = -1;
    rhos.forEach((r, i) => {
      if (r === null || bestRho === null || r < bestRho - TIE_TOLERANCE) return;
      if (best < 0 || Math.abs(i - depth) <= Math.abs(best - depth)) best = i;
    });
    return {
      checkpoint: c.index,
      fraction: c.fraction,
      mostSimilar: best < 0 ? null : data.refLayers[best],
      rho: best < 0 ? null : rhos[best],
      rhoByLayer,
    };
  });
  const early = steps.filter((s) => s.fraction <= EARLY_FRACTION && s.mostSimilar !== null);
  const below = early.filter((s) => data.refLayers.indexOf(s.mostSimilar as string) < depth).length;
  const verdict: CrawlAnalysis['verdict'] =
    early.length === 0 ? 'inconclusive' : below * 2 > early.length ? 'crawl' : 'no-crawl';
  return { layer, depth, steps, verdict };
}

/**
 * Bottom-up convergence from the tensor: every specimen layer that has a final reference layer of
 * the same name, compared with it at each checkpoint (missing rho never counts as converged).
 */
export function convergenceOf(data: FigureData, options: { threshold?: number } = {}): ConvergenceAnalysis {
  const shared = data.specLayers
    .map((name, j) => ({ name, i: data.refLayers.indexOf(name), j }))
    .filter((l) => l.i >= 0);
  return analyseConvergence(
    shared.map((l) => l.name),
    shared.map((l) => data.checkpoints.map((c) => data.rho(l.i, l.j, c.index) ?? Number.NaN)),
    data.checkpoints.map((c) => c.fraction),
    options,
  );
}
