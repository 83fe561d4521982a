// The paper's 4-D tensor C[refLayer, specLayer, checkpoint, coefficient]: every reference layer (the
// converged network) against every specimen layer at every checkpoint.
//
// Work is shared across pairs: each reference layer is prepared once (centring, rank, orthonormal
// basis [n, r], per-side quantities) and kept; each specimen representation is loaded and prepared
// once per checkpoint and paired with every reference layer, then dropped. A few cells are computed
// concurrently: the products run on the GEMM engine (on this thread) while the JS decompositions run on
// worker threads (pool.ts). Memory: the prepared reference layers plus at most two specimen
// representations (the current one and, while its last cells finish, the next).

import { availableParallelism } from 'node:os';
import { untilAborted } from '../abort.ts';
import { type GemmEngine, getGemmEngine, jsEngine } from './gemm.ts';
import type { DecompositionKind } from './linalg.ts';
import type { Matrix2D } from './matrix.ts';
import { startDecompositionPool } from './pool.ts';
import {
  nullPairSteps,
  type PreparedRepresentation,
  type ProductEngine,
  pairSteps,
  permuteRows,
  prepareSteps,
  resolveOptions,
  runAsync,
  type SimilarityOptions,
  type SimilarityResult,
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
/** Cells computed concurrently (their products overlap with the JS decompositions of the others). */
const IN_FLIGHT = 2 * WORKERS + 2;

/**
 * Yields the cells checkpoint by checkpoint, specimen layer by specimen layer, reference layer by
 * reference layer. Aborting the signal stops it with the signal's reason (an AbortError by default)
 * at the next load or product.
 */
export async function* buildTensor(input: TensorBuilderInput): AsyncGenerator<TensorCell> {
  const { refLayers, specLayers, checkpoints, loadSpecimen, skip, signal, permutationNull } = input;
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
  const decompose = engine.decompose?.bind(engine) ?? worker?.decompose;
  // Every engine call ends (for the builder) the moment the signal aborts: a cancel or a graceful stop
  // is noticed within milliseconds even while one large product or decomposition runs for minutes on
  // the engine's threads; that call finishes in the background and its result is dropped.
  const running = new Set<Promise<unknown>>();
  const call = <T>(task: () => Promise<T>): Promise<T> => {
    signal?.throwIfAborted();
    const p = task();
    running.add(p);
    const forget = () => running.delete(p);
    p.then(forget, forget);
    return signal ? untilAborted(p, signal) : p;
  };
  const abortable: ProductEngine = {
    matmulTN: (a: Matrix2D, b: Matrix2D) => call(() => engine.matmulTN(a, b)),
    matmul: (a: Matrix2D, b: Matrix2D) => call(() => engine.matmul(a, b)),
    gram: (a: Matrix2D) => call(() => (engine.gram ? engine.gram(a) : engine.matmulTN(a, a))),
    ...(engine.columnStats && {
      columnStats: (a: Matrix2D) => call(() => engine.columnStats!(a)),
    }),
    ...(engine.centreColumns && {
      centreColumns: (a: Matrix2D, keep: Int32Array, mean: Float64Array) =>
        call(() => engine.centreColumns!(a, keep, mean)),
    }),
    ...(decompose && {
      decompose: (kind: DecompositionKind, a: Float64Array, n: number) => call(() => decompose(kind, a, n)),
    }),
  };
  const inflight: Array<Promise<TensorCell>> = [];
  try {
    const wanted = (i: number, j: number, t: number) => !skip?.(i, j, t);
    // Reference layers, prepared concurrently (their decompositions run on the worker threads).
    const settled = await Promise.allSettled(
      refLayers.map(async (layer, i) => {
        let needed = false;
        for (let t = 0; t < checkpoints && !needed; t++) {
          for (let j = 0; j < specLayers.length && !needed; j++) needed = wanted(i, j, t);
        }
        if (!needed) return null;
        signal?.throwIfAborted();
        const label = `reference layer '${layer.name}'`;
        return runAsync(prepareSteps(await layer.load(), label, 'x', opts), abortable);
      }),
    );
    // (all settled first: none may still use the engine when a failure ends the builder)
    const refs = settled.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });
    // Cells in yield order; each specimen representation is prepared (lazily, once) by its first cell.
    const cells = function* () {
      for (let t = 0; t < checkpoints; t++) {
        for (let j = 0; j < specLayers.length; j++) {
          const todo = refs.flatMap((ref, i) => (ref && wanted(i, j, t) ? [i] : []));
          if (todo.length === 0) continue;
          let spec: Promise<{ y: PreparedRepresentation; permuted: Float64Array | null }> | undefined;
          const prepared = () => {
            spec ??= (async () => {
              signal?.throwIfAborted();
              const label = `specimen layer '${specLayers[j]!.name}' at checkpoint ${t}`;
              const y = await runAsync(prepareSteps(await loadSpecimen(j, t), label, 'y', opts), abortable);
              const permuted =
                permutationNull && y.centred
                  ? permuteRows(
                      y.centred,
                      y.samples,
                      y.live,
                      seededPermutation(y.samples, nullSeed(permutationNull.seed, j, t)),
                    )
                  : null;
              return { y, permuted };
            })();
            return spec;
          };
          for (const i of todo) {
            yield async (): Promise<TensorCell> => {
              const { y, permuted } = await prepared();
              const result = await runAsync(pairSteps(refs[i]!, y, opts), abortable);
              const cell: TensorCell = { refLayer: i, specLayer: j, checkpoint: t, result };
              if (permuted) cell.null = await runAsync(nullPairSteps(refs[i]!, y, permuted), abortable);
              return cell;
            };
          }
        }
      }
    };
    // A few cells in flight: while one cell's decompositions run in JS, the next cell's products (and
    // the next specimen's loading and Gram matrix) run on the engine's threads.
    const queue = cells();
    const start = () => {
      const next = queue.next();
      if (next.done) return false;
      const p = next.value();
      p.catch(() => {}); // awaited below, in order; this only keeps an early failure from being unhandled
      inflight.push(p);
      return true;
    };
    while (inflight.length < IN_FLIGHT && start()) {
      // fill the window
    }
    while (inflight.length > 0) {
      const cell = await inflight[0]!;
      inflight.shift();
      signal?.throwIfAborted();
      start();
      yield cell;
    }
  } finally {
    await Promise.allSettled(inflight);
    await worker?.close();
    if (ownEngine) {
      await Promise.allSettled(running); // nothing may use the engine once it is disposed
      await engine.dispose();
    }
  }
}
