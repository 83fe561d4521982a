// The tensor phase's work: every (reference layer, specimen layer, checkpoint) cell of an experiment
// not stored yet, computed in batches and stored as it goes (a kill loses at most a batch), and the
// blocks of checkpoints a large tensor is cut into for other workers (a spread experiment's parts).
import type { PairPass } from '../../core/analysis/conv-reduction.ts';
import { adjustedScore } from '../../core/analysis/warnings.ts';
import { buildTensor, type TensorCell } from '../../core/cca/index.ts';
import type { NormalisedSimilarity } from '../../core/spec/experiment.ts';
import type { Db } from '../../store/db.ts';
import { type CellRow, encodeCoefficients, writeCells } from '../../store/experiments.ts';
import type { PipelineContext } from './experiment.ts';
import type { RunHandle } from './runs.ts';
import { NULL_SEED } from './summary.ts';

const CELL_BATCH = 64;
const CELL_FLUSH_MS = 1_000;

/** [from, to) checkpoint ranges: `blocks` contiguous blocks of (nearly) equal size. */
export function tensorBlocks(checkpoints: number, blocks: number): Array<[number, number]> {
  const n = Math.max(1, Math.min(blocks, checkpoints));
  return Array.from({ length: n }, (_, b) => [
    Math.floor((b * checkpoints) / n),
    Math.floor(((b + 1) * checkpoints) / n),
  ]);
}

/** The blocks of `blocks` with any cell not stored yet (`have`: stored cells' keys, see storedCellKeys). */
export function missingBlocks(
  blocks: Array<[number, number]>,
  have: ReadonlySet<string>,
  cellsPerCheckpoint: number,
): Array<[number, number]> {
  return blocks.filter(([from, to]) => {
    let stored = 0;
    for (const c of have) {
      const t = Number(c.split('/')[2]);
      if (t >= from && t < to) stored++;
    }
    return stored < cellsPerCheckpoint * (to - from);
  });
}

/** The keys (`refLayer/specLayer/checkpoint`) of the experiment's stored cells, of checkpoints [from, to) if given. */
export async function storedCellKeys(
  db: Db,
  experimentId: string,
  range?: [number, number],
): Promise<Set<string>> {
  const existing = await db.cell.findMany({
    where: { experimentId, ...(range ? { checkpoint: { gte: range[0], lt: range[1] } } : {}) },
    select: { refLayer: true, specLayer: true, checkpoint: true },
  });
  return new Set(existing.map((c) => `${c.refLayer}/${c.specLayer}/${c.checkpoint}`));
}

/**
 * The tensor phase's progress (a spread experiment's blocks report the same): after `trainShare` of
 * training and 0.02 of baseline, the cells stored so far of `total` fill the bar up to 0.99 (success
 * writes 1).
 */
export function cellProgress(trainShare: number, stored: number, total: number) {
  return {
    fraction: trainShare + 0.02 + (0.97 - trainShare) * (stored / total),
    message: `computed ${stored}/${total} cells`,
  };
}

/**
 * The cells of the passes for specimen checkpoints [from, to) whose (specimen layer, checkpoint) group
 * misses a cell of `have`, as the tensor builder yields them (cells already stored included).
 */
async function* missingCells(
  ctx: PipelineContext,
  ref: RunHandle,
  spec: RunHandle,
  similarity: NormalisedSimilarity,
  passes: PairPass[],
  [from, to]: [number, number],
  have: ReadonlySet<string>,
  signal: AbortSignal,
): AsyncGenerator<TensorCell> {
  const lastRef = ref.checkpoints - 1;
  for (const pass of passes) {
    yield* buildTensor({
      refLayers: ref.layers.map((l) => ({
        name: l.name,
        load: () => ref.store.loadRepresentation(lastRef, pass.artifact(l.name)),
      })),
      specLayers: spec.layers,
      // (checkpoints before `from` are all skipped: never loaded; the null's seeds stay those of the
      // whole tensor, so a block computes exactly the cells the whole tensor would)
      checkpoints: to,
      loadSpecimen: (j, t) => spec.store.loadRepresentation(t, pass.artifact(spec.layers[j]!.name)),
      // A (specimen layer, checkpoint) with any cell missing is computed whole: the builder stacks the
      // reference layers of one specimen representation into shared products, so a partial group
      // would round differently from a clean run's (cells already stored are dropped by the caller).
      skip: (i, j, t) =>
        t < from ||
        !pass.pair(i, j) ||
        ref.layers.every((_, k) => !pass.pair(k, j) || have.has(`${k}/${j}/${t}`)),
      options: {
        engine: ctx.gemm,
        methods: similarity.methods,
        epsilon: similarity.epsilon,
        svccaThreshold: similarity.svccaThreshold,
      },
      permutationNull: { seed: NULL_SEED },
      signal,
    });
  }
}

/** A computed cell as the database stores it. */
export function cellRow(cell: TensorCell): CellRow {
  const r = cell.result;
  return {
    refLayer: cell.refLayer,
    specLayer: cell.specLayer,
    checkpoint: cell.checkpoint,
    rho: r.rho,
    mean: r.mean,
    svcca: r.svcca?.rho ?? null,
    pwcca: r.pwcca,
    cka: r.cka,
    rhoNull: cell.null ?? null,
    rhoAdjusted: adjustedScore(r.rho, cell.null ?? null),
    rankRef: r.ranks[0],
    rankSpec: r.ranks[1],
    coefficients: encodeCoefficients(r.cca),
  };
}

/**
 * Computes and stores the experiment's missing cells of specimen checkpoints [from, to) (cells are
 * keyed: one another process stored meanwhile is skipped at write); `onStored` gets the number of
 * cells stored so far, after each batch. Returns how many cells this call computed.
 */
export async function computeCells(
  ctx: PipelineContext,
  experimentId: string,
  ref: RunHandle,
  spec: RunHandle,
  similarity: NormalisedSimilarity,
  passes: PairPass[],
  range: [number, number],
  signal: AbortSignal,
  onStored: (stored: number) => void,
): Promise<number> {
  const { db } = ctx;
  const have = await storedCellKeys(db, experimentId, range);
  if (have.size === ref.layers.length * spec.layers.length * (range[1] - range[0])) return 0;
  let computed = 0;
  let batch: CellRow[] = [];
  let lastFlush = Date.now();
  const flush = async () => {
    const cells = batch;
    batch = [];
    lastFlush = Date.now();
    await writeCells(db, experimentId, cells);
  };
  for await (const cell of missingCells(ctx, ref, spec, similarity, passes, range, have, signal)) {
    if (have.has(`${cell.refLayer}/${cell.specLayer}/${cell.checkpoint}`)) continue;
    batch.push(cellRow(cell));
    computed++;
    if (batch.length >= CELL_BATCH || Date.now() - lastFlush > CELL_FLUSH_MS) {
      await flush();
      onStored(await db.cell.count({ where: { experimentId } }));
    }
  }
  await flush();
  return computed;
}
