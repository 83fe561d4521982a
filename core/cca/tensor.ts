// The paper's 4-D tensor C[refLayer, specLayer, checkpoint, coefficient]: every reference layer (the
// converged network) against every specimen layer at every checkpoint.
//
// Work is shared across pairs: each reference layer is prepared once (centring, rank, orthonormal
// basis [n, r], per-side quantities) and kept; each specimen representation is loaded and prepared
// once per checkpoint and paired with every reference layer, then dropped. Memory: the prepared
// reference layers plus one specimen representation.

import { type GemmEngine, getGemmEngine, jsEngine } from './gemm.ts';
import type { Matrix2D } from './matrix.ts';
import {
  type PreparedRepresentation,
  pairSteps,
  prepareSteps,
  resolveOptions,
  runAsync,
  type SimilarityOptions,
  type SimilarityResult,
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
   * engine: a GemmEngine (owned by the caller), 'auto' (onnxruntime if it loads, else JS; the
   * default) or 'js'. precision 'float64' is the only one implemented.
   */
  options?: SimilarityOptions & { engine?: GemmEngine | 'auto' | 'js'; precision?: 'float64' };
  signal?: AbortSignal;
}

export interface TensorCell {
  refLayer: number;
  specLayer: number;
  checkpoint: number;
  /** Equal (to ~1e-12) to similarity(ref layer, specimen layer at the checkpoint). */
  result: SimilarityResult;
}

/**
 * Yields the cells checkpoint by checkpoint, specimen layer by specimen layer, reference layer by
 * reference layer. Aborting the signal stops it with the signal's reason (an AbortError by default)
 * at the next load or product.
 */
export async function* buildTensor(input: TensorBuilderInput): AsyncGenerator<TensorCell> {
  const { refLayers, specLayers, checkpoints, loadSpecimen, skip, signal } = input;
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
  const abortable = {
    matmulTN: async (a: Matrix2D, b: Matrix2D) => {
      signal?.throwIfAborted();
      return engine.matmulTN(a, b);
    },
    matmul: async (a: Matrix2D, b: Matrix2D) => {
      signal?.throwIfAborted();
      return engine.matmul(a, b);
    },
  };
  try {
    const wanted = (i: number, j: number, t: number) => !skip?.(i, j, t);
    const refs: Array<PreparedRepresentation | null> = [];
    for (let i = 0; i < refLayers.length; i++) {
      let needed = false;
      for (let t = 0; t < checkpoints && !needed; t++) {
        for (let j = 0; j < specLayers.length && !needed; j++) needed = wanted(i, j, t);
      }
      signal?.throwIfAborted();
      const layer = refLayers[i]!;
      refs.push(
        needed
          ? await runAsync(
              prepareSteps(await layer.load(), `reference layer '${layer.name}'`, 'x', opts),
              abortable,
            )
          : null,
      );
    }
    for (let t = 0; t < checkpoints; t++) {
      for (let j = 0; j < specLayers.length; j++) {
        const todo = refs.flatMap((ref, i) => (ref && wanted(i, j, t) ? [i] : []));
        if (todo.length === 0) continue;
        signal?.throwIfAborted();
        const label = `specimen layer '${specLayers[j]!.name}' at checkpoint ${t}`;
        const spec = await runAsync(prepareSteps(await loadSpecimen(j, t), label, 'y', opts), abortable);
        for (const i of todo) {
          const result = await runAsync(pairSteps(refs[i]!, spec, opts), abortable);
          yield { refLayer: i, specLayer: j, checkpoint: t, result };
        }
      }
    }
  } finally {
    if (ownEngine) await engine.dispose();
  }
}
