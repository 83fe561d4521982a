// The summary phase's pure part: the JSON stored with a succeeded experiment (`summary`, served by
// GET /v1/experiments/ID), built from what the earlier phases produced and the stored cells. No
// database, queue or clock: worker/processors/experiment.ts reads the inputs and writes the result.

import { type PairPass, pairReductionSummary } from '../../core/analysis/conv-reduction.ts';
import { experimentWarnings } from '../../core/analysis/crawl.ts';
import { analysisContext } from '../../core/analysis/index.ts';
import type { ExperimentSummary } from '../../core/contracts/summary.ts';
import { figureDataFromCells } from '../../core/figures/data.ts';
import type { FigureCheckpoint, RhoCell } from '../../core/tensor-data.ts';
import type { RepresentationInfo } from '../../core/train/store.ts';
import type { PartResult, SavedBaseline } from '../../store/queue.ts';

/** Seed of every cell's permutation null: the same data always get the same null (and on resume). */
export const NULL_SEED = 0;

export interface SummaryInput {
  /** the tensor's size: reference layers × specimen layers × specimen checkpoints */
  cells: number;
  /** how long this entry of the experiment's job took */
  seconds: number;
  source: 'upload' | 'trained';
  /** this attempt's runs (reference first): each reused, or resumed from a saved step (null: step 0) */
  runs: Array<{ reused: boolean; resumedFromStep: number | null }>;
  /** cells an earlier attempt (or a part) had stored before this attempt computed the rest */
  cellsStoredBefore: number;
  cellsComputed: number;
  /** a spread experiment's finished parts; undefined when it was not spread (no `parts` key) */
  parts: PartResult[] | undefined;
  /** the runs' layer names (tensor axes) and the specimen's checkpoint count */
  refLayers: string[];
  specLayers: string[];
  checkpoints: number;
  /** the layers' recorded sizes (the baseline phase's, from the runs' states) */
  refInfo: RepresentationInfo[];
  specInfo: RepresentationInfo[];
  /** Net_S = Net_R: one run */
  sameRun: boolean;
  /** the stored cells (every one of the tensor) and the specimen's checkpoints */
  storedCells: RhoCell[];
  specCheckpoints: FigureCheckpoint[];
  baseline: SavedBaseline;
  samples: number;
  passes: PairPass[];
}

/** Each specimen layer against its own final version over training (Figure 2's data). */
export function rhoToFinal(
  input: Pick<SummaryInput, 'refLayers' | 'specLayers' | 'checkpoints' | 'storedCells'>,
): Array<{ layer: string; rhoToFinal: Array<number | null> | null }> {
  const rhoOf = new Map(
    input.storedCells.map((c) => [`${c.refLayer}/${c.specLayer}/${c.checkpoint}`, c.rho]),
  );
  return input.specLayers.map((name, j) => {
    const i = input.refLayers.indexOf(name);
    return {
      layer: name,
      rhoToFinal:
        i < 0
          ? null
          : Array.from({ length: input.checkpoints }, (_, t) => rhoOf.get(`${i}/${j}/${t}`) ?? null),
    };
  });
}

/**
 * The warnings stored with the summary, so the API, the page and the CLI show the same list: the
 * layers' (widths, samples, ranks kept) and the cells' (null near 1).
 */
function summaryWarnings(input: SummaryInput) {
  const figureData = figureDataFromCells({
    refLayers: input.refLayers,
    specLayers: input.specLayers,
    checkpoints: input.specCheckpoints,
    cells: input.storedCells,
  });
  const declared = (network: 'reference' | 'specimen', info: RepresentationInfo[]) =>
    info.map((l) => ({ network, name: l.name, features: l.features, samples: l.samples }));
  return experimentWarnings(
    figureData,
    analysisContext(
      figureData,
      [...declared('reference', input.refInfo), ...declared('specimen', input.specInfo)],
      input.sameRun,
    ),
  );
}

/** The experiment's summary (key order as stored since the summary's first version). */
export function experimentSummary(input: SummaryInput): ExperimentSummary {
  return {
    cells: input.cells,
    seconds: input.seconds,
    reusedRuns: input.source === 'upload' ? 0 : input.runs.filter((r) => r.reused).length,
    source: input.source,
    /** what the attempt that finished did: each run reused, resumed from a saved step or trained from
     * step 0, and the cells it computed next to those an earlier attempt had stored */
    finalAttempt: {
      runs: input.runs.map((r) => ({ reused: r.reused, resumedFromStep: r.resumedFromStep })),
      cellsStoredBefore: input.cellsStoredBefore,
      cellsComputed: input.cellsComputed,
    },
    /** a spread experiment: the parts other workers did (runs trained, tensor blocks), who and when */
    ...(input.parts ? { parts: input.parts } : {}),
    layers: rhoToFinal(input),
    /** baseline[refLayer][specLayer]: rho and CKA of Gaussian data with the pair's samples and widths */
    baseline: input.baseline,
    samples: input.samples,
    /** what limits the numbers (AnalysisWarning[]); GET /v1/experiments/ID shows them as `warnings` */
    warnings: summaryWarnings(input),
    /** each cell's null is a permutation null (the specimen's rows shuffled, seeded) */
    null: { kind: 'permutation', seed: NULL_SEED },
    /** how the pairs were reduced: each pass's pairs, samples and (conv-vs-conv) reduction */
    pairReductions: pairReductionSummary(input.passes, input.refInfo, input.specInfo),
  };
}
