// Warnings that travel with an experiment: facts about its data that limit what its numbers can say.
// Layer-level warnings come from a layer's width, its rank and the number of probe samples (known
// before the run from the spec, refined after it with the kept rank); cell-level warnings from a
// cell's null (the similarity of unrelated representations with the same samples and spectra).
// Pure functions: the worker, the API, the CLI, the page and the figures all derive or show the same
// list.

export type WarningCode =
  | 'few-samples' // samples < 10 x a layer's width (or rank): CCA finds spurious correlations
  | 'constant-layer' // a representation with (numerically) zero variance
  | 'rank-deficient' // rank kept < width (dead / duplicated neurons)
  | 'conv-reduction' // how a conv layer was reduced (positions-as-samples, mean, flatten)
  | 'null-near-one' // the cell's null similarity is itself close to 1: the cell cannot be judged
  | string; // room for more; always lower-kebab-case

export interface AnalysisWarning {
  code: WarningCode;
  /** plain words, names the layer(s) and the numbers */
  message: string;
  network?: 'reference' | 'specimen';
  /** layer-level warning */
  layer?: string;
  /** cell-level warning */
  refLayer?: string;
  specLayer?: string;
  checkpoint?: number;
}

/** CCA needs about this many samples per feature (per kept direction) before unrelated layers look unrelated. */
export const SAMPLES_PER_FEATURE = 10;

/** A cell whose null similarity reaches this cannot be judged: even unrelated data look this similar. */
export const NULL_NEAR_ONE = 0.9;

/** What a layer-level rule needs to know about one recorded layer. */
export interface LayerFacts {
  network: 'reference' | 'specimen';
  name: string;
  /** number of features (neurons, or channels when positions are samples) */
  width: number;
  /** number of samples its representations have (probe examples, or examples x positions) */
  samples: number;
  /** rank kept by CCA (known after the run; undefined before it) */
  rank?: number;
  /** how a conv-shaped layer became a matrix ('pool', 'mean', …; absent or 'none': not reduced) */
  reduction?: string;
}

/**
 * The number of directions that decide whether a layer has enough samples: its kept rank when known
 * (a layer of rank 3 is judged like a 3-wide one), else its width.
 */
export function effectiveWidth(layer: Pick<LayerFacts, 'width' | 'rank'>): number {
  return layer.rank !== undefined && layer.rank > 0 ? Math.min(layer.rank, layer.width) : layer.width;
}

/** True when the layer has fewer than SAMPLES_PER_FEATURE samples per feature (or per kept direction). */
export function hasFewSamples(layer: Pick<LayerFacts, 'width' | 'rank' | 'samples'>): boolean {
  // a rank limited by the samples themselves (rank = samples - 1 after centring) still counts as few
  const width =
    layer.rank !== undefined && layer.rank >= layer.samples - 1 ? layer.width : effectiveWidth(layer);
  return width > 0 && layer.samples < SAMPLES_PER_FEATURE * width;
}

/** The short reason a verdict gives for a layer with too few samples (e.g. for 'inconclusive'). */
/** Below this many samples per feature a layer is left out of the verdicts (between it and
 * SAMPLES_PER_FEATURE it is only warned about and judged by its adjusted score). */
export const MIN_SAMPLES_PER_FEATURE = 5;

export function fewSamplesReason(layer: Pick<LayerFacts, 'name' | 'width' | 'samples'>): string {
  return `few-samples: ${layer.name} has ${layer.width} features and ${layer.samples} samples`;
}

const NETWORK_WORD = { reference: 'reference', specimen: 'specimen' } as const;

/**
 * Layer-level warnings: few-samples (samples < 10 x width, or x kept rank), constant-layer (rank 0),
 * rank-deficient (rank kept < width for a reason other than the number of samples). A layer that is
 * the same in both networks (same name, width and samples) is warned about once, without `network`,
 * when the facts agree.
 */
export function layerWarnings(layers: LayerFacts[]): AnalysisWarning[] {
  const out: AnalysisWarning[] = [];
  for (const layer of layers) {
    const where = `${NETWORK_WORD[layer.network]} layer '${layer.name}'`;
    const base = { network: layer.network, layer: layer.name };
    if (layer.rank === 0) {
      out.push({
        ...base,
        code: 'constant-layer',
        message: `${where} is constant over its ${layer.samples} samples (rank 0): every similarity with it is 0 and says nothing`,
      });
      continue;
    }
    if (hasFewSamples(layer)) {
      const per = (layer.samples / layer.width).toFixed(layer.samples / layer.width < 1 ? 2 : 1);
      out.push({
        ...base,
        code: 'few-samples',
        message:
          `${where} has ${layer.width} features and ${layer.samples} samples (${per} per feature; CCA needs about ` +
          `${SAMPLES_PER_FEATURE}): even unrelated representations look similar to it` +
          (layer.samples < MIN_SAMPLES_PER_FEATURE * layer.width
            ? ', so the verdicts leave it out'
            : '; its raw rho is inflated, the verdicts judge it only by its score against the permutation null'),
      });
    }
    if (layer.rank !== undefined && layer.rank < layer.width && layer.rank < layer.samples - 1) {
      out.push({
        ...base,
        code: 'rank-deficient',
        message: `${where} keeps rank ${layer.rank} of its ${layer.width} features (dead, constant or linearly dependent ones): CCA sees ${layer.rank} directions`,
      });
    }
  }
  return mergeNetworks(out);
}

/** One warning instead of two when both networks' layers of the same name say the same thing. */
function mergeNetworks(warnings: AnalysisWarning[]): AnalysisWarning[] {
  const out: AnalysisWarning[] = [];
  const seen = new Map<string, AnalysisWarning>();
  for (const w of warnings) {
    const stripped = w.message.replace(/^(reference|specimen) layer/, 'layer');
    const key = `${w.code}\u0000${w.layer}\u0000${stripped}`;
    const earlier = seen.get(key);
    if (earlier && earlier.network !== w.network) {
      earlier.message = stripped;
      delete earlier.network;
      continue;
    }
    const copy = { ...w };
    seen.set(key, copy);
    out.push(copy);
  }
  return out;
}

/** What a cell-level rule needs to know about one cell. */
export interface CellFacts {
  refLayer: string;
  specLayer: string;
  checkpoint: number;
  rho: number | null;
  /** the cell's null similarity (null: not computed) */
  null: number | null;
}

/** The adjusted score: how far rho is above its null, as a share of the room above the null. */
export function adjustedScore(rho: number | null, nullRho: number | null): number | null {
  if (rho === null || nullRho === null || !Number.isFinite(rho) || !Number.isFinite(nullRho)) return null;
  if (nullRho >= 1 - 1e-9) return null; // no room above the null: not defined
  return (rho - nullRho) / (1 - nullRho);
}

/**
 * Cell-level warnings: null-near-one for each cell whose null reaches NULL_NEAR_ONE. Cells of the same
 * (reference layer, specimen layer) pair are grouped into one warning per pair when more than
 * `perPairLimit` checkpoints are affected (the warning then names the first checkpoint and the count).
 */
export function cellWarnings(cells: CellFacts[], options: { threshold?: number } = {}): AnalysisWarning[] {
  const threshold = options.threshold ?? NULL_NEAR_ONE;
  const byPair = new Map<string, CellFacts[]>();
  for (const c of cells) {
    if (c.null === null || !(c.null >= threshold)) continue;
    const key = `${c.refLayer}\u0000${c.specLayer}`;
    const list = byPair.get(key) ?? [];
    list.push(c);
    byPair.set(key, list);
  }
  const out: AnalysisWarning[] = [];
  for (const list of byPair.values()) {
    list.sort((a, b) => a.checkpoint - b.checkpoint);
    const first = list[0]!;
    const highest = Math.max(...list.map((c) => c.null as number));
    const at =
      list.length === 1
        ? `at checkpoint ${first.checkpoint}`
        : `at ${list.length} checkpoints (first: ${first.checkpoint})`;
    out.push({
      code: 'null-near-one',
      refLayer: first.refLayer,
      specLayer: first.specLayer,
      checkpoint: first.checkpoint,
      message:
        `reference '${first.refLayer}' vs specimen '${first.specLayer}' ${at}: the null similarity is ` +
        `${highest.toFixed(3)} (≥ ${threshold}), unrelated data look as similar, so the cell cannot be judged`,
    });
  }
  return out;
}

/** Warnings without repeats (same code, place and message), in their first order. */
export function dedupeWarnings(warnings: AnalysisWarning[]): AnalysisWarning[] {
  const seen = new Set<string>();
  return warnings.filter((w) => {
    const key = [w.code, w.network, w.layer, w.refLayer, w.specLayer, w.checkpoint, w.message].join('\u0000');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** One line per warning, as the CLI and the figures print them: "few-samples: <message>". */
export function formatWarning(w: AnalysisWarning): string {
  return `${w.code}: ${w.message}`;
}
