// The paper's 4-D tensor C[refLayer, specLayer, checkpoint, coefficient]: every reference layer (the
// converged network) against every specimen layer at every checkpoint.
//
// Work is shared across pairs: each reference layer is prepared once (centring, rank, orthonormal
// basis Qx [n, rx], per-side quantities), and the bases of all reference layers are stacked, transposed,
// into one matrix QT [R = sum rx, n]. Each specimen representation is loaded and prepared once per
// checkpoint, then paired with every reference layer at once: one product M = QT Yc [R, dy] (the
// tensor's big product: the rows of reference layer i are its Qx_i^T Yc) and one B = M Wy [R, ry] (rows
// of i: Qx_i^T Qy). What is left per pair is small: the spectrum of its block of B (the Gram of the
// block's smaller side and its eigenvalues, one engine call), CKA from its block of M, SVCCA/PWCCA.
// A few specimen representations are in flight at once, so that their products, decompositions and
// spectra keep every engine thread busy. Memory: the prepared reference layers and QT, plus at most
// (engine threads + 4) specimen representations with their M and B (and each layer's previous one,
// for the identity check).

import { availableParallelism } from 'node:os';
import { untilAborted } from '../abort.ts';
import { type GemmEngine, getGemmEngine, jsEngine } from './gemm.ts';
import { identicalRepresentations } from './identical.ts';
import { type DecompositionKind, decompose as decomposeHere } from './linalg.ts';
import type { Matrix2D } from './matrix.ts';
import { limiter } from './native.ts';
import { startDecompositionPool } from './pool.ts';
import { type Phase, PhaseProfile } from './profile.ts';
import {
  centreColumns,
  columnStats,
  type PreparedRepresentation,
  type ProductEngine,
  pairMeasures,
  pairPreamble,
  permuteRows,
  prepareSteps,
  type Role,
  resolveOptions,
  rhoFromProduct,
  runAsync,
  type SimilarityOptions,
  type SimilarityResult,
  type StepKind,
  seededPermutation,
} from './similarity.ts';

export interface TensorBuilderInput {
  /** The reference network's final representations, acts [samples, neurons]. */
  refLayers: Array<{ name: string; load: () => Promise<Matrix2D> }>;
  /** Specimen layer names. */
  specLayers: Array<{ name: string }>;
  /** Number of checkpoints N. */
  checkpoints: number;
  /** Specimen layer j at checkpoint t, acts [samples, neurons] (same samples as the reference). */
  loadSpecimen: (specLayer: number, checkpoint: number) => Promise<Matrix2D>;
  /** Cells already stored (resume): they are neither computed nor yielded. */
  skip?: (refLayer: number, specLayer: number, checkpoint: number) => boolean;
  /**
   * engine: a GemmEngine (owned by the caller), 'auto' (the native OpenBLAS engine if it loads, else
   * onnxruntime, else JS; the default) or 'js'. precision 'float64' is the only one implemented.
   */
  options?: SimilarityOptions & { engine?: GemmEngine | 'auto' | 'js'; precision?: 'float64' };
  /**
   * Also compute each cell's permutation null (nullPairSteps): the specimen representation's rows
   * shuffled by a permutation seeded from (seed, specimen layer, checkpoint), the same on every
   * attempt. Two more products per cell, no decomposition.
   */
  permutationNull?: { seed: number };
  signal?: AbortSignal;
  /** Records where the time goes, phase by phase (profile.ts); the consumer records 'writing' itself. */
  profile?: PhaseProfile;
  /** Specimen representations prepared at once (default: the engine's threads + 4). */
  inFlight?: number;
}

/** The permutation seed of specimen layer j at checkpoint t (stable across attempts and versions). */
export function nullSeed(seed: number, specLayer: number, checkpoint: number): number {
  return (
    (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(specLayer + 1, 0xc2b2ae35) + checkpoint * 7919) >>>
    0
  );
}

export interface TensorCell {
  refLayer: number;
  specLayer: number;
  checkpoint: number;
  /** Equal (to ~1e-12) to similarity(ref layer, specimen layer at the checkpoint). */
  result: SimilarityResult;
  /** The permutation null's rho (only with `permutationNull`). */
  null?: number;
}

/** Worker threads for the JS decompositions (2 measured best on 2 cores next to onnxruntime's 2 threads). */
const WORKERS = Math.max(2, Math.min(4, availableParallelism()));

/** Phase of each step of a representation's preparation (see profile.ts). */
const preparePhase = (kind: StepKind | 'start'): Phase =>
  kind === 'start' || kind === 'colstats' || kind === 'centre'
    ? 'centring'
    : kind === 'gram'
      ? 'gram'
      : 'decompositions';

/** qt rows [offset, offset + rows) <- basis^T, basis [n, rows] row-major; blocked for the caches. */
function transposeInto(qt: Float64Array, offset: number, basis: Float64Array, n: number, rows: number): void {
  const B = 64;
  for (let s0 = 0; s0 < n; s0 += B) {
    const s1 = Math.min(n, s0 + B);
    for (let q0 = 0; q0 < rows; q0 += B) {
      const q1 = Math.min(rows, q0 + B);
      for (let s = s0; s < s1; s++) {
        const src = s * rows;
        for (let q = q0; q < q1; q++) qt[(offset + q) * n + s] = basis[src + q]!;
      }
    }
  }
}

/**
 * Yields the cells checkpoint by checkpoint, specimen layer by specimen layer, reference layer by
 * reference layer. Aborting the signal stops it with the signal's reason (an AbortError by default)
 * at the next load or product.
 */
export async function* buildTensor(input: TensorBuilderInput): AsyncGenerator<TensorCell> {
  const { refLayers, specLayers, checkpoints, loadSpecimen, skip, signal, permutationNull, profile } = input;
  const { engine: enginePref = 'auto', precision = 'float64', ...similarityOptions } = input.options ?? {};
  if (precision !== 'float64') throw new Error(`buildTensor: precision '${precision}' is not supported`);
  const opts = resolveOptions(similarityOptions);
  const ownEngine = typeof enginePref === 'string';
  const engine =
    enginePref === 'js'
      ? jsEngine
      : typeof enginePref === 'string'
        ? await getGemmEngine('auto')
        : enginePref;
  // The decompositions (per-pair spectra, per-representation eigendecompositions and Cholesky factors):
  // the engine's own (LAPACK) when it has them, else JS on worker threads (in place if they cannot
  // start) where the products run elsewhere than in JS on this thread.
  const worker = engine.name === 'js' || engine.decompose ? null : await startDecompositionPool(WORKERS);
  // the centred representations, M and B of every specimen representation are of a few sizes: their
  // buffers are reused rather than faulted in afresh (released in the finally below)
  const releaseOutputs = engine.reuseOutputs?.();
  const decompose = engine.decompose?.bind(engine) ?? worker?.decompose;
  // An engine with a fixed number of threads gets at most that many calls from here, so that a call's
  // recorded time is its run time, not its wait for a thread.
  const slots = engine.parallel ? limiter(engine.parallel) : <T>(task: () => Promise<T>) => task();
  // Every engine call ends (for the builder) the moment the signal aborts: a cancel or a graceful stop
  // is noticed within milliseconds even while one large product or decomposition runs for minutes on
  // the engine's threads; that call finishes in the background and its result is dropped.
  const running = new Set<Promise<unknown>>();
  const call = <T>(phase: Phase, task: () => Promise<T>): Promise<T> => {
    signal?.throwIfAborted();
    const p = slots(() => {
      signal?.throwIfAborted(); // aborted while waiting for a thread: never started
      return profile ? profile.time(phase, task) : task();
    });
    running.add(p);
    const forget = () => running.delete(p);
    p.then(forget, forget);
    return signal ? untilAborted(p, signal) : p;
  };
  const engineFor = (phaseOf: (kind: StepKind) => Phase): ProductEngine => ({
    matmulTN: (a: Matrix2D, b: Matrix2D) => call(phaseOf('tn'), () => engine.matmulTN(a, b)),
    matmul: (a: Matrix2D, b: Matrix2D) => call(phaseOf('nn'), () => engine.matmul(a, b)),
    gram: (a: Matrix2D) =>
      call(phaseOf('gram'), () => (engine.gram ? engine.gram(a) : engine.matmulTN(a, a))),
    // (in place, on this thread, where the engine has none: timed all the same)
    columnStats: (a: Matrix2D) =>
      call(phaseOf('colstats'), async () => (engine.columnStats ? engine.columnStats(a) : columnStats(a))),
    centreColumns: (a: Matrix2D, keep: Int32Array, mean: Float64Array, scale: number) =>
      call(phaseOf('centre'), async () =>
        engine.centreColumns
          ? engine.centreColumns(a, keep, mean, scale)
          : centreColumns(a, keep, mean, scale),
      ),
    decompose: (kind: DecompositionKind, a: Float64Array, n: number) =>
      call(phaseOf(kind), async () => (decompose ? decompose(kind, a, n) : decomposeHere(kind, a, n))),
    ...(engine.gramEig && {
      gramEig: (a: Matrix2D, vectors: boolean) => call(phaseOf('gramEig'), () => engine.gramEig!(a, vectors)),
    }),
  });
  /** JS stretches of the algorithm on this thread, recorded under the phase of the step they follow. */
  const observer = (phaseOf: (kind: StepKind | 'start') => Phase) =>
    profile
      ? (after: StepKind | 'start', seconds: number) => {
          const end = PhaseProfile.now();
          profile.record(phaseOf(after), end - seconds, end);
        }
      : undefined;
  const prepare = (m: Matrix2D, label: string, role: Role) =>
    runAsync(prepareSteps(m, label, role, opts), engineFor(preparePhase), observer(preparePhase));
  const load = <T>(task: () => Promise<T>) => (profile ? profile.time('loading', task) : task());
  const spectraEngine = engineFor(() => 'spectra');
  const spectraObserver = observer(() => 'spectra');

  const inflight: Array<Promise<TensorCell[]>> = [];
  let referenceSide: Promise<{
    refs: Array<PreparedRepresentation | null>;
    offset: number[];
    qt: Float64Array;
    n: number;
  }> | null = null;
  try {
    const wanted = (i: number, j: number, t: number) => !skip?.(i, j, t);
    const needed = refLayers.map((_, i) => {
      for (let t = 0; t < checkpoints; t++) {
        for (let j = 0; j < specLayers.length; j++) if (wanted(i, j, t)) return true;
      }
      return false;
    });
    // The reference side: its layers prepared concurrently, then stacked into QT. The first specimen
    // representations load and prepare meanwhile (below); only their products wait for it.
    referenceSide = (async () => {
      const settled = await Promise.allSettled(
        refLayers.map(async (layer, i) => {
          if (!needed[i]) return null;
          signal?.throwIfAborted();
          const label = `reference layer '${layer.name}'`;
          return prepare(await load(layer.load), label, 'x');
        }),
      );
      // (all settled first: none may still use the engine when a failure ends the builder)
      const refs = settled.map((r) => {
        if (r.status === 'rejected') throw r.reason;
        return r.value;
      });
      // QT [R, n]: the transposed bases of the reference layers with rank > 0, stacked; offset[i] is the
      // first row of layer i (-1: not in the stack). Each basis is dropped once copied.
      const offset = refs.map(() => -1);
      let rows = 0;
      for (const [i, ref] of refs.entries()) {
        if (ref && ref.rank > 0) {
          offset[i] = rows;
          rows += ref.rank;
        }
      }
      const n = refs.find((r) => r !== null)?.samples ?? 0;
      const qt = new Float64Array(rows * n);
      if (rows > 0) {
        const start = PhaseProfile.now();
        for (const [i, ref] of refs.entries()) {
          if (offset[i]! < 0 || !ref) continue;
          transposeInto(qt, offset[i]!, ref.basis!, n, ref.rank);
          ref.basis = null;
        }
        profile?.record('decompositions', start, PhaseProfile.now());
      }
      return { refs, offset, qt, n };
    })();
    referenceSide.catch(() => {}); // awaited by every group and at the end

    // A specimen representation identical to the same layer's at the previous checkpoint (the input
    // layer, a frozen layer) has the same cells: their results are reused (only the permutation null,
    // seeded per checkpoint, is computed again). Identical = same dtype, shape and bytes, compared
    // byte for byte (memcmp: a different representation differs within its first bytes, an identical
    // one costs one pass). A group's representation is known early, its results once its cells are:
    // a group waits for the previous checkpoint's results only when the bytes match.
    const previous = new Map<
      number,
      { raw: Settled<Matrix2D | null>; results: Settled<Map<number, SimilarityResult> | null> }
    >();

    /** Every wanted cell of specimen layer j at checkpoint t, in reference-layer order. */
    const specimenCells = (j: number, t: number, todo: number[]): Promise<TensorCell[]> => {
      let before = previous.get(j);
      const mine = {
        raw: deferred<Matrix2D | null>(),
        results: deferred<Map<number, SimilarityResult> | null>(),
      };
      previous.set(j, mine);
      const work = async (): Promise<TensorCell[]> => {
        signal?.throwIfAborted();
        const label = `specimen layer '${specLayers[j]!.name}' at checkpoint ${t}`;
        const raw = await load(() => loadSpecimen(j, t));
        mine.raw.resolve(t + 1 < checkpoints ? raw : null); // held until the next checkpoint's compare
        const earlierRaw = before ? await before.raw.promise : null;
        const start = PhaseProfile.now();
        const same = earlierRaw !== null && identicalRepresentations(earlierRaw, raw);
        profile?.record('loading', start, PhaseProfile.now());
        const earlierResults = same ? before!.results.promise : null;
        before = undefined; // (its representation may go)
        const earlier = earlierResults ? await earlierResults : null;
        const reused = earlier && todo.every((i) => earlier.has(i)) ? earlier : null;
        if (reused && !permutationNull) {
          mine.results.resolve(reused);
          return todo.map((i) => ({
            refLayer: i,
            specLayer: j,
            checkpoint: t,
            result: copyResult(reused.get(i)!),
          }));
        }
        const y = await prepare(raw, label, 'y');
        const { refs, offset, qt, n } = await referenceSide!;
        // The big products, one per run of consecutive stacked layers (one for all, unless cells are
        // skipped): M = QT[run] Yc [rows, dy], B = M Wy [rows, ry], and the same for the null with the
        // rows of Yc permuted.
        const m = new Map<number, Float64Array>();
        const b = new Map<number, Float64Array>();
        const nullB = new Map<number, Float64Array>();
        const runs: Array<{ first: number; rows: number; layers: number[] }> = [];
        for (const i of todo) {
          if (refs[i]!.rank === 0 || y.rank === 0) continue; // every measure 0 (pairPreamble)
          const last = runs.at(-1);
          if (last && last.first + last.rows === offset[i]) {
            last.rows += refs[i]!.rank;
            last.layers.push(i);
          } else runs.push({ first: offset[i]!, rows: refs[i]!.rank, layers: [i] });
        }
        const wy = mat(y.whitening, y.live, y.rank);
        const products = async (
          phase: Phase,
          data: Matrix2D,
          into: Map<number, Float64Array>,
          keepM: boolean,
        ) =>
          Promise.all(
            runs.map(async (run) => {
              const q = mat(qt.subarray(run.first * n, (run.first + run.rows) * n), run.rows, n);
              const mRun = await call(phase, () => engine.matmul(q, data));
              // (Wy upper triangular, R^-1 of the Cholesky factor: dtrmm, half the flops)
              const upper = y.whiteningUpper && y.rank === y.live && engine.matmulUpper;
              const mn = mat(mRun, run.rows, y.live);
              const bRun = await call(phase, () =>
                upper ? engine.matmulUpper!(mn, wy) : engine.matmul(mn, wy),
              );
              // (the flops of the calls made)
              const bFlops = upper ? run.rows * y.live * (y.live + 1) : 2 * run.rows * y.live * y.rank;
              profile?.count(phase, 2 * run.rows * n * y.live + bFlops);
              for (const i of run.layers) {
                const from = offset[i]! - run.first;
                const to = from + refs[i]!.rank;
                into.set(i, bRun.subarray(from * y.rank, to * y.rank));
                if (keepM) m.set(i, mRun.subarray(from * y.live, to * y.live));
              }
            }),
          );
        const permuted = async () => {
          if (!permutationNull || runs.length === 0) return;
          const start = PhaseProfile.now();
          const perm = seededPermutation(n, nullSeed(permutationNull.seed, j, t));
          const shuffled = mat(permuteRows(y.centred!, n, y.live, perm), n, y.live);
          profile?.record('null', start, PhaseProfile.now());
          await products('null', shuffled, nullB, false);
        };
        const main = reused
          ? Promise.resolve([])
          : products('pair_products', mat(y.centred!, n, y.live), b, true);
        await Promise.all([main, permuted()]);
        y.centred = null; // every product that needs it is done
        const cells = await Promise.all(
          todo.map(async (i): Promise<TensorCell> => {
            const x = refs[i]!;
            let result: SimilarityResult;
            if (reused) result = copyResult(reused.get(i)!);
            else {
              const { warnings, trivial } = pairPreamble(x, y, opts);
              result =
                trivial ??
                (await runAsync(
                  pairMeasures(x, y, m.get(i)!, b.get(i)!, warnings, opts),
                  spectraEngine,
                  spectraObserver,
                ));
            }
            const cell: TensorCell = { refLayer: i, specLayer: j, checkpoint: t, result };
            if (permutationNull) cell.null = nullB.has(i) ? rhoFromProduct(nullB.get(i)!, x.rank, y.rank) : 0;
            return cell;
          }),
        );
        mine.results.resolve(reused ?? new Map(cells.map((c) => [c.refLayer, c.result])));
        return cells;
      };
      const p = work();
      // a failure leaves nothing to reuse (the builder fails with it anyway)
      p.catch(() => {
        mine.raw.resolve(null);
        mine.results.resolve(null);
      });
      return p;
    };

    // Specimen representations in yield order, a few in flight.
    const groups = function* () {
      for (let t = 0; t < checkpoints; t++) {
        for (let j = 0; j < specLayers.length; j++) {
          const todo = needed.flatMap((need, i) => (need && wanted(i, j, t) ? [i] : []));
          if (todo.length > 0) yield () => specimenCells(j, t, todo);
        }
      }
    };
    const queue = groups();
    const start = () => {
      const next = queue.next();
      if (next.done) return false;
      const p = next.value();
      p.catch(() => {}); // awaited below, in order; this only keeps an early failure from being unhandled
      inflight.push(p);
      return true;
    };
    // (engine threads + 4: some representations need no product, the input layer reused from the
    // previous checkpoint and narrow output layers, so a window of + 2 often held too few large ones.
    // Measured on 2 cores, bench:cca (500 cells): with + 2 only one engine call ran for 2.2-2.9 s of
    // 22 s, with + 4 for 0.3-0.6 s, and the tensor took 20.6-21.0 s instead of 21.9-22.3 s (peak RSS
    // +50-70 MB); + 6 was no faster. Each one more holds a specimen representation and its products.)
    const spread = Math.max(1, input.inFlight ?? (engine.parallel ?? 1) + 4);
    while (inflight.length < spread && start()) {
      // fill the window
    }
    while (inflight.length > 0) {
      const cells = await inflight[0]!;
      inflight.shift();
      start();
      for (const cell of cells) {
        signal?.throwIfAborted();
        yield cell;
      }
    }
  } finally {
    await Promise.allSettled(inflight);
    await referenceSide?.catch(() => {});
    await worker?.close();
    releaseOutputs?.();
    if (ownEngine) {
      await Promise.allSettled(running); // nothing may use the engine once it is disposed
      await engine.dispose();
    }
  }
}

const mat = (data: Float64Array, rows: number, cols: number): Matrix2D => ({ data, rows, cols });

/** A promise with its resolve function (resolving twice keeps the first value). */
interface Settled<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}
function deferred<T>(): Settled<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A copy of a result another cell also carries (its arrays are not shared). */
function copyResult(r: SimilarityResult): SimilarityResult {
  return {
    ...r,
    cca: r.cca.slice(),
    svcca: r.svcca && { ...r.svcca, dims: [...r.svcca.dims], cca: r.svcca.cca?.slice() },
    ranks: [...r.ranks],
    warnings: [...r.warnings],
  };
}
