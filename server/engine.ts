// Which engine the workers' decompositions run on, for estimates: the native LAPACK when the workers
// would load it (GEMM_ENGINE auto or blas, and the addon loads here: the API and workers share the
// build), else the JS decompositions.
import type { Config } from '../config/index.ts';
import { loadNative } from '../core/cca/native.ts';
import type { DecompositionEngine } from '../core/estimate.ts';

export function decompositionEngine(config: Config): DecompositionEngine {
  const native = config.gemmEngine === 'auto' || config.gemmEngine === 'blas';
  return native && loadNative().lib ? 'lapack' : 'js';
}
