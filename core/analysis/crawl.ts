// Top-down "crawl" (the paper's Figure 3): follow one top specimen layer through training and, at
// each checkpoint, name the final reference layer it is most similar to. The paper finds that
// early in training a top layer resembles *lower* final layers: what is first learnt high up is
// later squeezed down.
//
// Decided only on evidence (see the README, "How the verdicts are decided"): final layers are
// compared through the adjusted score (rho against each cell's own null, comparable across widths),
// never through raw rho; final layers that cannot be judged (too few samples per feature, a null near
// 1, the logit layer) are left out with the reason; an early checkpoint points "below" only when the
// best lower layer stands above its null and beats every layer at or above the followed depth by a
// margin, and "not below" only the other way round; 'crawl' needs most early checkpoints below,
// 'no-crawl' most not below with every lower layer judged; anything else is 'inconclusive' with a
// reason.
import type { FigureData } from '../tensor-data.ts';
import { analyseConvergence, type ConvergenceAnalysis, type ConvergenceOptions } from './convergence.ts';
import {
  type AnalysisContext,
  aboveNull,
  type CellScore,
  cellScore,
  type Exclusion,
  factsOf,
  isInput,
  MARGIN,
  marginBetween,
  nullNearOne,
  type ScoreName,
  samplesOf,
  scoreName,
  tooFewForVerdict,
  Z_MIN,
} from './evidence.ts';
import {
  type AnalysisWarning,
  cellWarnings,
  dedupeWarnings,
  fewSamplesReason,
  type LayerFacts,
  layerWarnings,
} from './warnings.ts';

export interface CrawlStep {
  checkpoint: number;
  fraction: number;
  /** the judged final reference layer with the largest score (null: none can be judged here) */
  mostSimilar: string | null;
  /** that layer's rho */
  rho: number | null;
  /** rho against every final reference layer, by name */
  rhoByLayer: Record<string, number | null>;
  /** that layer's score (see CrawlAnalysis.score) */
  score?: number | null;
  /** the score against every final reference layer (null: left out or not computed) */
  scoreByLayer?: Record<string, number | null>;
  /** each cell's null */
  nullByLayer?: Record<string, number | null>;
  /**
   * 'below': a lower final layer wins with evidence; 'not-below': a layer at or above the followed
   * depth wins with evidence; 'undecided': no winner stands out by the margin above its null or the
   * others; 'excluded': the checkpoint is left out (the specimen's final checkpoint when Net_S = Net_R).
   */
  decision?: 'below' | 'not-below' | 'undecided' | 'excluded';
  /** true for the checkpoints the verdict counts (fraction ≤ EARLY_FRACTION) */
  early?: boolean;
}

export interface CrawlAnalysis {
  layer: string;
  /** depth the layer is compared with: its own reference index (same name) or its relative depth */
  depth: number;
  steps: CrawlStep[];
  /** 'inconclusive': the data cannot decide (see reason) */
  verdict: 'crawl' | 'no-crawl' | 'inconclusive';
  /** why the verdict is 'inconclusive' ("code: words"); null otherwise */
  reason: string | null;
  /** the score final layers are compared through */
  score: ScoreName;
  /** final layers and checkpoints left out, and why */
  excluded: Exclusion[];
  /** the counts the verdict rests on */
  evidence: {
    early: number;
    below: number;
    notBelow: number;
    undecided: number;
    margin: number;
    zMin: number;
  };
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

/** The checkpoint position (in data.checkpoints order) of the specimen's final checkpoint. */
function finalPosition(data: FigureData): number {
  return data.checkpoints.length - 1;
}

/** Reference layers that cannot be judged for the given context: too few samples per feature. */
function unjudgedReference(data: FigureData, ctx: AnalysisContext): Map<number, Exclusion> {
  const out = new Map<number, Exclusion>();
  data.refLayers.forEach((name, i) => {
    const facts = factsOf(ctx, 'reference', name);
    if (facts && tooFewForVerdict(facts)) {
      out.set(i, {
        code: 'few-samples',
        layer: name,
        reason: fewSamplesReason(facts).replace(/^few-samples: /, ''),
      });
    }
  });
  return out;
}

/**
 * The input as a candidate final layer, left out when resembling it is true by construction for the
 * followed layer (null when it stays a candidate; needs the layer facts):
 * - its representation is a conv reduction of the image (pooled regions, mean colours): a few smooth
 *   averages of the pixels — the image's low spatial frequencies, most of its variance — which every
 *   layer of a barely trained network passes on, so the input would win the early checkpoints whatever
 *   the layer has learnt;
 * - it has no more directions (kept rank, else width) than the followed layer: a layer at least as
 *   wide as the input is, early in training, close to an invertible function of it (rho ~ 1 by
 *   construction, a narrower layer lies in a wider one's span).
 */
export function inputByConstruction(
  data: FigureData,
  ctx: AnalysisContext,
  followed: string,
): Exclusion | null {
  const i = data.refLayers.findIndex(isInput);
  if (i < 0 || followed === data.refLayers[i]) return null;
  const input = factsOf(ctx, 'reference', data.refLayers[i]!);
  if (!input) return null;
  const name = input.name;
  if (input.reduction && input.reduction !== 'none') {
    return {
      code: 'structural-input',
      layer: name,
      reason: `${name} is left out as a candidate: its representation is a conv reduction of the image ('${input.reduction}', ${input.width} features), smooth averages of the pixels that any barely trained layer reproduces, so it would be the most similar layer early in training by construction`,
    };
  }
  const own = factsOf(ctx, 'specimen', followed);
  const directions =
    input.rank !== undefined && input.rank > 0 ? Math.min(input.rank, input.width) : input.width;
  const width = own
    ? own.rank !== undefined && own.rank > 0
      ? Math.min(own.rank, own.width)
      : own.width
    : 0;
  if (own && directions > 0 && directions <= width) {
    return {
      code: 'structural-input',
      layer: name,
      reason: `${name} is left out as a candidate: it has ${directions} directions, no more than ${followed}'s ${width}, and a layer at least as wide as the input is close to an invertible function of it early in training (rho near 1 by construction)`,
    };
  }
  return null;
}

export interface CrawlOptions {
  /** final layers left out as candidates (default ['logits']; the followed layer is never left out) */
  exclude?: string[];
}

export function analyseCrawl(
  data: FigureData,
  layer = defaultTopLayer(data.specLayers),
  ctx: AnalysisContext = {},
  options: CrawlOptions = {},
): CrawlAnalysis {
  const j = layer === undefined ? -1 : data.specLayers.indexOf(layer);
  if (layer === undefined || j < 0) throw new RangeError(`no specimen layer named ${layer}`);
  const sameName = data.refLayers.indexOf(layer);
  // different networks: map relative depth of the specimen layer onto the reference layers
  const depth =
    sameName >= 0
      ? sameName
      : Math.round((j * (data.refLayers.length - 1)) / Math.max(1, data.specLayers.length - 1));
  const score = scoreName(data);
  const samples = samplesOf(ctx);
  const excluded: Exclusion[] = [];
  const leftOut = unjudgedReference(data, ctx);
  for (const name of options.exclude ?? ['logits']) {
    const i = data.refLayers.indexOf(name);
    if (i >= 0 && name !== layer && !leftOut.has(i)) {
      leftOut.set(i, {
        code: 'excluded',
        layer: name,
        reason: `${name} is left out as a candidate (the paper finds the logit layer behaves differently; with its few features it resembles any layer that predicts the output)`,
      });
    }
  }
  const structural = inputByConstruction(data, ctx, layer);
  if (structural) {
    const i = data.refLayers.indexOf(structural.layer as string);
    if (!leftOut.has(i)) leftOut.set(i, structural);
  }
  excluded.push(...leftOut.values());
  const last = finalPosition(data);
  if (ctx.sameNetwork && last >= 0) {
    excluded.push({
      code: 'trivial-checkpoint',
      checkpoint: data.checkpoints[last]!.index,
      reason:
        "the specimen's final checkpoint is the reference itself (Net_S = Net_R): rho = 1 by construction",
    });
  }
  const nearOne = new Set<string>();

  const steps: CrawlStep[] = data.checkpoints.map((c, position) => {
    const rhoByLayer: Record<string, number | null> = {};
    const scoreByLayer: Record<string, number | null> = {};
    const nullByLayer: Record<string, number | null> = {};
    const cells: Array<CellScore | null> = data.refLayers.map((name, i) => {
      const cell = cellScore(data, i, j, c.index, samples);
      const r = cell.rho;
      rhoByLayer[name] = r;
      nullByLayer[name] = cell.null;
      const usable =
        !leftOut.has(i) && cell.score !== null && Number.isFinite(cell.score) && !nullNearOne(cell);
      if (!leftOut.has(i) && nullNearOne(cell)) nearOne.add(name);
      scoreByLayer[name] = usable ? cell.score : null;
      return usable ? cell : null;
    });
    const bestScore = cells.reduce<number | null>(
      (m, cell) => (cell && (m === null || (cell.score as number) > m) ? (cell.score as number) : m),
      null,
    );
    // Ties (within TIE_TOLERANCE) go to the layer nearest the followed layer's own depth, the deeper
    // one on equal distance.
    let best = -1;
    cells.forEach((cell, i) => {
      if (!cell || bestScore === null || (cell.score as number) < bestScore - TIE_TOLERANCE) return;
      if (best < 0 || Math.abs(i - depth) <= Math.abs(best - depth)) best = i;
    });
    const pick = (from: number, to: number) => {
      let k = -1;
      for (let i = from; i < to; i++) {
        const cell = cells[i];
        if (cell && (k < 0 || (cell.score as number) > (cells[k]!.score as number))) k = i;
      }
      return k < 0 ? null : cells[k]!;
    };
    const lower = pick(0, Math.min(depth, cells.length));
    const upper = pick(depth, cells.length);
    const early = c.fraction <= EARLY_FRACTION;
    let decision: CrawlStep['decision'];
    if (ctx.sameNetwork && position === last) decision = 'excluded';
    else if (
      lower &&
      aboveNull(lower) &&
      (!upper || (lower.score as number) >= (upper.score as number) + marginBetween(lower, upper))
    )
      decision = 'below';
    else if (
      upper &&
      aboveNull(upper) &&
      (!lower || (upper.score as number) >= (lower.score as number) + marginBetween(lower, upper))
    )
      decision = 'not-below';
    else decision = 'undecided';
    return {
      checkpoint: c.index,
      fraction: c.fraction,
      mostSimilar: best < 0 ? null : data.refLayers[best]!,
      rho: best < 0 ? null : (cells[best]!.rho as number),
      rhoByLayer,
      score: best < 0 ? null : (cells[best]!.score as number),
      scoreByLayer,
      nullByLayer,
      decision,
      early: early && decision !== 'excluded',
    };
  });
  for (const name of nearOne) {
    excluded.push({
      code: 'null-near-one',
      layer: name,
      reason: `cells of ${name} whose null is near 1 are left out: unrelated data look as similar`,
    });
  }

  const early = steps.filter((s) => s.early);
  const below = early.filter((s) => s.decision === 'below').length;
  const notBelow = early.filter((s) => s.decision === 'not-below').length;
  const undecided = early.length - below - notBelow;
  // lower final layers that could not be judged: a 'no-crawl' would be decided without them
  const lowerLeftOut = [...leftOut.entries()]
    .filter(([i, e]) => i < depth && e.code !== 'excluded' && e.code !== 'structural-input')
    .map(([, e]) => `${e.code}: ${e.reason}`);
  for (const name of nearOne) {
    if (data.refLayers.indexOf(name) < depth) lowerLeftOut.push(`null-near-one: ${name}'s null is near 1`);
  }
  let verdict: CrawlAnalysis['verdict'] = 'inconclusive';
  let reason: string | null = null;
  if (early.length === 0) {
    reason = `no-early-checkpoint: no checkpoint at or before ${(EARLY_FRACTION * 100).toFixed(0)} % of training can be judged`;
  } else if (below * 2 > early.length) {
    verdict = 'crawl';
  } else if (notBelow * 2 > early.length) {
    if (lowerLeftOut.length === 0) verdict = 'no-crawl';
    else
      reason = `${lowerLeftOut.join('; ')} (a lower final layer that cannot be judged, so 'no-crawl' cannot be claimed)`;
  } else {
    const why = `no-evidence: at ${undecided} of ${early.length} early checkpoints no final layer stands above its null and the others by the margin`;
    reason = lowerLeftOut.length > 0 ? `${lowerLeftOut.join('; ')}; ${why}` : why;
  }
  return {
    layer,
    depth,
    steps,
    verdict,
    reason,
    score,
    excluded,
    evidence: { early: early.length, below, notBelow, undecided, margin: MARGIN, zMin: Z_MIN },
  };
}

/**
 * Bottom-up convergence from the tensor: every specimen layer that has a final reference layer of
 * the same name, compared with it at each checkpoint through the score (missing values never count
 * as converged; cells whose null is near 1 do not count; layers with too few samples are left out).
 */
export function convergenceOf(
  data: FigureData,
  options: { threshold?: number } = {},
  ctx: AnalysisContext = {},
): ConvergenceAnalysis {
  const shared = data.specLayers
    .map((name, j) => ({ name, i: data.refLayers.indexOf(name), j }))
    .filter((l) => l.i >= 0);
  const samples = samplesOf(ctx);
  const cells = shared.map((l) => data.checkpoints.map((c) => cellScore(data, l.i, l.j, c.index, samples)));
  const excludedLayers: Exclusion[] = [];
  for (const l of shared) {
    if (l.name === 'input') continue;
    const facts = [factsOf(ctx, 'reference', l.name), factsOf(ctx, 'specimen', l.name)].find(
      (f): f is LayerFacts => f !== undefined && tooFewForVerdict(f),
    );
    if (facts)
      excludedLayers.push({
        code: 'few-samples',
        layer: l.name,
        reason: fewSamplesReason(facts).replace(/^few-samples: /, ''),
      });
  }
  const convergenceOptions: ConvergenceOptions = {
    threshold: options.threshold,
    score: scoreName(data),
    excludedLayers,
    uncountable: (layer, t) => nullNearOne(cells[layer]![t]!),
    aboveNull: (layer, t) => {
      const cell = cells[layer]![t]!;
      return cell.null === null || aboveNull(cell);
    },
    ...(ctx.sameNetwork && {
      finalReason:
        "the specimen's final checkpoint is the reference itself (Net_S = Net_R): rho = 1 by construction",
    }),
  };
  return analyseConvergence(
    shared.map((l) => l.name),
    cells.map((row) => row.map((c) => c.score ?? Number.NaN)),
    data.checkpoints.map((c) => c.fraction),
    convergenceOptions,
  );
}

/**
 * Facts about each layer from its declared width and samples and the ranks CCA kept (reference
 * layers: any cell; specimen layers: the final checkpoint).
 */
export function layerFactsFrom(
  data: FigureData,
  declared: {
    reference: Array<{ name: string; width: number; samples: number; reduction?: string }>;
    specimen: Array<{ name: string; width: number; samples: number; reduction?: string }>;
  },
): { reference: LayerFacts[]; specimen: LayerFacts[] } {
  const lastT = data.checkpoints.at(-1)?.index;
  const rankRef = (i: number) => {
    for (const c of data.checkpoints)
      for (let j = 0; j < data.specLayers.length; j++) {
        const r = data.ranks?.(i, j, c.index);
        if (r) return r[0];
      }
    return undefined;
  };
  const rankSpec = (j: number) => {
    if (lastT === undefined) return undefined;
    for (let i = 0; i < data.refLayers.length; i++) {
      const r = data.ranks?.(i, j, lastT);
      if (r) return r[1];
    }
    return undefined;
  };
  const side = (network: 'reference' | 'specimen', names: string[], list: typeof declared.reference) =>
    names.map((name, k): LayerFacts => {
      const d = list.find((l) => l.name === name);
      const rank = network === 'reference' ? rankRef(k) : rankSpec(k);
      return {
        network,
        name,
        width: d?.width ?? 0,
        samples: d?.samples ?? 0,
        ...(rank !== undefined && { rank }),
        ...(d?.reduction !== undefined && { reduction: d.reduction }),
      };
    });
  return {
    reference: side('reference', data.refLayers, declared.reference),
    specimen: side('specimen', data.specLayers, declared.specimen),
  };
}

/** Every warning of a finished experiment: its layers' (with ranks) and its cells' (null near 1). */
export function experimentWarnings(data: FigureData, ctx: AnalysisContext): AnalysisWarning[] {
  const layers = ctx.layers ? layerWarnings([...ctx.layers.reference, ...ctx.layers.specimen]) : [];
  const cells = [];
  if (data.rhoNull) {
    for (const c of data.checkpoints)
      for (let i = 0; i < data.refLayers.length; i++)
        for (let j = 0; j < data.specLayers.length; j++)
          cells.push({
            refLayer: data.refLayers[i]!,
            specLayer: data.specLayers[j]!,
            checkpoint: c.index,
            rho: data.rho(i, j, c.index),
            null: data.rhoNull(i, j, c.index),
          });
  }
  return dedupeWarnings([...layers, ...cellWarnings(cells)]);
}
