// Size and time estimates of an experiment, computed before anything is queued so that a spec too
// large for the configured limits is refused with the estimate and the limit (HTTP 422).
import { describeReduction, poolGrid } from './cca/conv.ts';
import type { Estimate } from './contracts/estimate.ts';
import type { LayerInfo, NetworkDescription } from './nets/describe.ts';
import { commonPositionsGrid, type NormalisedExperiment } from './spec/experiment.ts';
import type { ConvMode } from './spec/run.ts';

export interface Limits {
  probeExamples: number;
  trainExamples: number;
  checkpoints: number;
  representationFeatures: number;
  convSamples: number;
  tensorCells: number;
  memoryMB: number;
  seconds: number;
}

/** The estimate as the API answers it (core/contracts/estimate.ts). */
export type { Estimate };

export interface LimitViolation {
  code: string;
  field: string;
  message: string;
  limit: number;
  value: number;
}

// Throughputs measured on the 2-core development machine (shared/docs/STACK.md and the benchmarks):
// tfjs-wasm trains at ~2 GFLOP/s effective; the GEMM engine multiplies at ~50 GFLOP/s in float64.
const TRAIN_FLOPS_PER_S = 2e9;
const GEMM_FLOPS_PER_S = 5e10;
const DECOMPOSITION_FLOPS_PER_S = 1e9;
/**
 * LAPACK (the native engine's dsyevd) on one core: an eigendecomposition of order d took d^3 / 4e9 CPU
 * seconds here (d = 1024 and 2048, measured with the engine), i.e. "10 d^3" at 4e10/s.
 */
const LAPACK_DECOMPOSITION_FLOPS_PER_S = 4e10;

/**
 * Where the decompositions run: 'lapack' with the native OpenBLAS engine, 'js' otherwise (onnx, js).
 * The worker's engine decides; callers pass what the deployment runs.
 */
export type DecompositionEngine = 'lapack' | 'js';
/** Products over the samples per cell: the cell's own and its permutation null's. */
const PAIR_PRODUCTS = 2;

export interface RepresentationShape {
  samples: number;
  features: number;
  reduction: ConvMode | 'none';
  reductionDetail: string | null;
  /** the positions-as-samples representation of a conv layer's conv-vs-conv pairs (see positionsGrid) */
  positions?: { samples: number; features: number };
}

/**
 * [samples, features] of one layer's representation under the experiment's conv mode, and the
 * reduction used ('none' for a dense layer) with its description. `maxFeatures` sizes the 'pool' grid.
 * `positionsGrid` (captureOptions' common grid): in 'positions' mode the grid of every conv layer;
 * in another mode, a conv layer other than the input also has a positions representation on it for
 * its conv-vs-conv pairs, and the description names both.
 */
export function representationShape(
  layer: LayerInfo,
  examples: number,
  convMode: NormalisedExperiment['similarity']['convMode'],
  convSamples: number,
  maxFeatures = Number.POSITIVE_INFINITY,
  positionsGrid?: [number, number],
): RepresentationShape {
  if (layer.shape.length === 1)
    return { samples: examples, features: layer.shape[0], reduction: 'none', reductionDetail: null };
  const shape = layer.shape as [number, number, number];
  const [h, w, c] = shape;
  const positionsOn = (g: [number, number]) => ({
    samples: Math.min(examples * g[0] * g[1], convSamples),
    features: c,
  });
  const grid: [number, number] =
    convMode === 'pool'
      ? poolGrid(shape, examples, maxFeatures)
      : convMode === 'positions'
        ? (positionsGrid ?? [h, w])
        : [1, 1];
  const size =
    convMode === 'mean'
      ? { samples: examples, features: c }
      : convMode === 'flatten'
        ? { samples: examples, features: h * w * c }
        : convMode === 'pool'
          ? { samples: examples, features: grid[0] * grid[1] * c }
          : positionsOn(grid);
  const detail = describeReduction(convMode, shape, { rows: size.samples, cols: size.features }, grid);
  if (!positionsGrid || convMode === 'positions' || layer.kind === 'input') {
    const alone = positionsGrid && layer.kind === 'input' && convMode !== 'positions';
    return {
      ...size,
      reduction: convMode,
      reductionDetail: alone ? `${detail} (in every pair: the input's channels are its colours)` : detail,
    };
  }
  const positions = positionsOn(positionsGrid);
  const pairs = describeReduction(
    'positions',
    shape,
    { rows: positions.samples, cols: positions.features },
    positionsGrid,
  );
  return {
    ...size,
    reduction: convMode,
    reductionDetail: `with conv layers: ${pairs}; with dense layers and the input: ${detail}`,
    positions,
  };
}

function trainingSeconds(run: NormalisedExperiment['reference'], net: NetworkDescription): number {
  // forward + backward ≈ 3 forward passes
  return (3 * net.flopsPerExample * run.training.steps * run.training.batchSize) / TRAIN_FLOPS_PER_S;
}

export function estimateExperiment(
  e: NormalisedExperiment,
  limits: Limits,
  linalg: DecompositionEngine = 'js',
): Estimate {
  const examples = e.probe.examples;
  const grid = commonPositionsGrid(e);
  const shapes = (net: NetworkDescription) =>
    net.layers.map((l) =>
      representationShape(
        l,
        examples,
        e.similarity.convMode,
        limits.convSamples,
        limits.representationFeatures,
        grid,
      ),
    );
  const ref = shapes(e.networks.reference);
  const spec = shapes(e.networks.specimen);
  // conv-vs-conv pairs on their positions representations (priced as a tensor of their own)
  const posRef = ref.flatMap((s) => (s.positions ? [s.positions] : []));
  const posSpec = spec.flatMap((s) => (s.positions ? [s.positions] : []));
  const specRun = e.specimen ?? e.reference;
  const checkpoints = specRun.checkpoints.steps.length;
  const cells = ref.length * spec.length * checkpoints;

  const bytes = (s: { samples: number; features: number }) => s.samples * s.features;
  // worker memory: every prepared reference layer (float64 basis) + one specimen layer + its basis
  const refBytes = [...ref, ...posRef].reduce((a, s) => a + bytes(s) * 8, 0);
  const specMax = Math.max(...[...spec, ...posSpec].map((s) => bytes(s) * 8 * 2));
  const paramsBytes = Math.max(e.networks.reference.parameters, e.networks.specimen.parameters) * 4 * 4;
  const memoryMB = (refBytes + specMax + paramsBytes) / 2 ** 20 + 400; // + runtime baseline

  const stored = (list: { samples: number; features: number }[], n: number) =>
    list.reduce((a, s) => a + bytes(s) * 4, 0) * n;
  const refCheckpoints = e.reference.checkpoints.steps.length;
  const diskMB =
    (stored([...ref, ...posRef], refCheckpoints) +
      (e.specimen ? stored([...spec, ...posSpec], checkpoints) : 0)) /
    2 ** 20;

  const training =
    trainingSeconds(e.reference, e.networks.reference) +
    (e.specimen ? trainingSeconds(e.specimen, e.networks.specimen) : 0);
  const captureFlops = (net: NetworkDescription, n: number) => net.flopsPerExample * examples * n;
  const capture =
    (captureFlops(e.networks.reference, refCheckpoints) +
      (e.specimen ? captureFlops(e.networks.specimen, checkpoints) : 0)) /
      TRAIN_FLOPS_PER_S +
    baselineSeconds(ref, spec, linalg) +
    (posRef.length > 0 ? baselineSeconds(posRef, posSpec, linalg) : 0);
  const tensor =
    tensorSeconds(ref, spec, checkpoints, linalg) +
    (posRef.length > 0 ? tensorSeconds(posRef, posSpec, checkpoints, linalg) : 0);
  return {
    cells,
    checkpoints,
    representation: widest([...ref, ...posRef], [...spec, ...posSpec]),
    memoryMB: round(memoryMB),
    diskMB: round(diskMB),
    seconds: {
      training: round(training),
      capture: round(capture),
      tensor: round(tensor),
      total: round(training + capture + tensor),
    },
  };
}

type Shape = { samples: number; features: number };

/** To one decimal, as estimates are reported. */
const round = (x: number) => Math.round(x * 10) / 10;

/** The widest and the largest-sample representation among these shapes. */
function widest(ref: Shape[], spec: Shape[]): { maxFeatures: number; maxSamples: number } {
  const all = [...ref, ...spec];
  return {
    maxFeatures: Math.max(...all.map((s) => s.features)),
    maxSamples: Math.max(...all.map((s) => s.samples)),
  };
}

/** Seconds to prepare one representation: its Gram matrix and the eigendecomposition of it. */
function representationSeconds(s: Shape, linalg: DecompositionEngine): number {
  const gram = (2 * s.samples * s.features * s.features) / GEMM_FLOPS_PER_S;
  const rate = linalg === 'lapack' ? LAPACK_DECOMPOSITION_FLOPS_PER_S : DECOMPOSITION_FLOPS_PER_S;
  return gram + (10 * s.features ** 3) / rate;
}

/** Seconds to compute the tensor of these representations over `checkpoints` specimen checkpoints. */
function tensorSeconds(
  ref: Shape[],
  spec: Shape[],
  checkpoints: number,
  linalg: DecompositionEngine,
): number {
  let seconds = 0;
  for (const s of [...ref, ...spec.flatMap((x) => Array(checkpoints).fill(x) as Shape[])]) {
    seconds += representationSeconds(s, linalg);
  }
  // per pair: Qx^T Yc, and the same product again for the permutation null (Qx^T Yc[perm])
  for (const r of ref)
    for (const s of spec)
      seconds += (2 * PAIR_PRODUCTS * r.samples * r.features * s.features * checkpoints) / GEMM_FLOPS_PER_S;
  return seconds;
}

/**
 * Seconds for the random baseline of the capturing phase: Gaussian data of each reference and specimen
 * layer's shape, prepared as representations are, and one pair per (reference, specimen) layer.
 */
function baselineSeconds(ref: Shape[], spec: Shape[], linalg: DecompositionEngine): number {
  let seconds = 0;
  for (const s of [...ref, ...spec]) seconds += representationSeconds(s, linalg);
  for (const r of ref)
    for (const s of spec) seconds += (2 * r.samples * r.features * s.features) / GEMM_FLOPS_PER_S;
  return seconds;
}

/**
 * The estimate of a tensor over representations that already exist (uploaded activations): no
 * training or capture; memory as in estimateExperiment without the network parameters.
 */
export function estimateTensor(
  ref: Shape[],
  spec: Shape[],
  checkpoints: number,
  linalg: DecompositionEngine = 'js',
): Estimate {
  const bytes = (s: Shape) => s.samples * s.features;
  const memoryMB =
    (ref.reduce((a, s) => a + bytes(s) * 8, 0) + Math.max(...spec.map((s) => bytes(s) * 16))) / 2 ** 20 + 400;
  // Uploads keep their dtype (float32 or float64): the disk estimate is the float64 upper bound.
  const diskMB =
    (ref.reduce((a, s) => a + bytes(s) * 8, 0) + spec.reduce((a, s) => a + bytes(s) * 8, 0) * checkpoints) /
    2 ** 20;
  const tensor = tensorSeconds(ref, spec, checkpoints, linalg);
  const capture = baselineSeconds(ref, spec, linalg);
  return {
    cells: ref.length * spec.length * checkpoints,
    checkpoints,
    representation: widest(ref, spec),
    memoryMB: round(memoryMB),
    diskMB: round(diskMB),
    seconds: { training: 0, capture: round(capture), tensor: round(tensor), total: round(capture + tensor) },
  };
}

/** A checker that records a violation in `out` when a value exceeds its limit. */
function overLimit(out: LimitViolation[]) {
  return (code: string, field: string, value: number, limit: number, what: string): void => {
    if (value > limit)
      out.push({ code, field, value, limit, message: `${what} ${value} exceeds the limit ${limit}` });
  };
}

/** The limits a tensor estimate exceeds: cells, memory, time (empty when it fits). */
export function checkTensorLimits(est: Estimate, limits: Limits): LimitViolation[] {
  const out: LimitViolation[] = [];
  const check = overLimit(out);
  check('LIMIT_TENSOR_CELLS', 'tensor', est.cells, limits.tensorCells, 'tensor cells');
  check(
    'LIMIT_MEMORY',
    'estimate.memoryMB',
    Math.ceil(est.memoryMB),
    limits.memoryMB,
    'estimated memory (MB)',
  );
  check('LIMIT_TIME', 'estimate.seconds', Math.ceil(est.seconds.total), limits.seconds, 'estimated seconds');
  return out;
}

/** The limits an upload experiment's declaration exceeds, before any representation arrives. */
export function checkUploadLimits(
  declared: { samples: number; checkpoints: number; cells: number },
  limits: Limits,
): LimitViolation[] {
  const out: LimitViolation[] = [];
  const check = overLimit(out);
  check('LIMIT_PROBE_EXAMPLES', 'samples', declared.samples, limits.probeExamples, 'samples');
  check('LIMIT_CHECKPOINTS', 'checkpoints', declared.checkpoints, limits.checkpoints, 'checkpoints');
  check('LIMIT_TENSOR_CELLS', 'tensor', declared.cells, limits.tensorCells, 'tensor cells');
  return out;
}

/** Every configured limit the experiment exceeds (empty when it fits). */
export function checkLimits(e: NormalisedExperiment, est: Estimate, limits: Limits): LimitViolation[] {
  const out: LimitViolation[] = [];
  const check = overLimit(out);
  check('LIMIT_PROBE_EXAMPLES', 'probe.examples', e.probe.examples, limits.probeExamples, 'probe examples');
  for (const [field, run] of [
    ['reference', e.reference],
    ['specimen', e.specimen],
  ] as const) {
    if (!run) continue;
    check(
      'LIMIT_TRAIN_EXAMPLES',
      `${field}.training.trainExamples`,
      run.training.trainExamples,
      limits.trainExamples,
      'training examples',
    );
    check(
      'LIMIT_CHECKPOINTS',
      `${field}.checkpoints`,
      run.checkpoints.steps.length,
      limits.checkpoints,
      'checkpoints',
    );
  }
  check(
    'LIMIT_REPRESENTATION_FEATURES',
    'architecture',
    est.representation.maxFeatures,
    limits.representationFeatures,
    'widest representation (features)',
  );
  out.push(...checkTensorLimits(est, limits));
  return out;
}
