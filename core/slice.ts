// Which cells a tensor slice reads, and whether its answer fits the limits — decided from the
// query and the experiment's layer list alone, before any cell is loaded or any value serialised.
// A slice names each layer and checkpoint at most once (a repeated index would multiply the answer
// without adding information: 600 repeats on three axes are 216 million cells).

/** What a slice can read from each cell (GET …/tensor?measure=; GET /v1/meta lists them). */
export const SLICE_MEASURES = [
  'rho',
  'mean',
  'svcca',
  'pwcca',
  'cka',
  'rho_null',
  'rho_adjusted',
  'coefficients',
] as const;
export type SliceMeasure = (typeof SLICE_MEASURES)[number];

/** A slice the query cannot select (400) or over the limits (422); the API's error plugin answers it. */
export class SliceError extends Error {
  constructor(
    readonly status: 400 | 422,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'SliceError';
  }
}

export interface SliceLimits {
  /** most cells (refLayer × specLayer × checkpoint) one slice may select */
  sliceCells: number;
  /** most bytes one slice's answer may take (estimated from the values it holds and the format) */
  sliceBytes: number;
}

export interface SliceCheckpoint {
  index: number;
  step: number;
  fraction: number;
}

export type SliceFormat = 'json' | 'npy' | 'csv';

/**
 * Layer indices selected by "2", "fc1", "0,fc2,3" or nothing (= all). 400 UNKNOWN_LAYER for a name
 * or index that is not a layer, 400 DUPLICATE_INDEX when one layer is named twice.
 */
export function selectLayers(raw: string | undefined, names: readonly string[], field: string): number[] {
  if (raw === undefined || raw === '') return names.map((_, i) => i);
  const seen = new Set<number>();
  return raw.split(',').map((part) => {
    const token = part.trim();
    let index = names.indexOf(token);
    if (index < 0 && /^\d+$/.test(token) && Number(token) < names.length) index = Number(token);
    if (index < 0) {
      throw new SliceError(
        400,
        'UNKNOWN_LAYER',
        `${field}: no layer '${token.slice(0, 100)}' (layers: ${names.join(', ')})`,
        { field },
      );
    }
    if (seen.has(index)) {
      throw new SliceError(
        400,
        'DUPLICATE_INDEX',
        `${field}: layer '${names[index]}' is selected more than once; name each layer at most once`,
        { field, value: names[index] },
      );
    }
    seen.add(index);
    return index;
  });
}

/**
 * Checkpoints by index list, nearest step, or nearest fraction; `single` squeezes the axis.
 * 400 AMBIGUOUS_CHECKPOINT (more than one way given), CHECKPOINT_OUT_OF_RANGE, DUPLICATE_INDEX.
 */
export function selectCheckpoints(
  q: { checkpoint?: string; step?: number; fraction?: number },
  all: readonly SliceCheckpoint[],
): { picked: SliceCheckpoint[]; single: boolean } {
  const given = [q.checkpoint !== undefined, q.step !== undefined, q.fraction !== undefined].filter(
    Boolean,
  ).length;
  if (given > 1) {
    throw new SliceError(400, 'AMBIGUOUS_CHECKPOINT', 'give one of checkpoint, step or fraction', {
      field: 'checkpoint',
    });
  }
  const nearest = (key: 'step' | 'fraction', v: number) =>
    all.reduce((best, c) => (Math.abs(c[key] - v) < Math.abs(best[key] - v) ? c : best));
  if (all.length > 0 && q.step !== undefined) return { picked: [nearest('step', q.step)], single: true };
  if (all.length > 0 && q.fraction !== undefined)
    return { picked: [nearest('fraction', q.fraction)], single: true };
  if (q.checkpoint === undefined || q.checkpoint === '') return { picked: [...all], single: false };
  const parts = q.checkpoint.split(',').map((p) => p.trim());
  const seen = new Set<number>();
  const picked = parts.map((p) => {
    const c = /^\d+$/.test(p) ? all.find((x) => x.index === Number(p)) : undefined;
    if (!c) {
      throw new SliceError(
        400,
        'CHECKPOINT_OUT_OF_RANGE',
        `checkpoint '${p.slice(0, 30)}' must be an index below ${all.length}`,
        { field: 'checkpoint' },
      );
    }
    if (seen.has(c.index)) {
      throw new SliceError(
        400,
        'DUPLICATE_INDEX',
        `checkpoint: ${c.index} is selected more than once; name each checkpoint at most once`,
        { field: 'checkpoint', value: c.index },
      );
    }
    seen.add(c.index);
    return c;
  });
  return { picked, single: parts.length === 1 };
}

/** Upper bound of the serialised size of one value, by format (JSON: a 17-digit double and a comma;
 * CSV: one row with its labels). */
export function bytesPerValue(format: SliceFormat, labelChars: number): number {
  if (format === 'npy') return 4;
  if (format === 'json') return 24;
  return 64 + labelChars;
}

export interface SlicePlan {
  cells: number;
  /** values the answer holds at most (cells, times the coefficient width bound for coefficients) */
  values: number;
  /** estimated answer size */
  bytes: number;
}

/**
 * Sizes a slice before it is read: `coefficientWidth` bounds the longest coefficient vector of the
 * selected pairs (their narrower layer's width) when coefficients are asked for, else 1.
 * 422 LIMIT_SLICE_CELLS or LIMIT_SLICE_BYTES (with the limit and the value) when it does not fit.
 */
export function planSlice(
  selection: { refLayers: number; specLayers: number; checkpoints: number },
  options: { format: SliceFormat; coefficientWidth: number; labelChars: number },
  limits: SliceLimits,
): SlicePlan {
  const cells = selection.refLayers * selection.specLayers * selection.checkpoints;
  if (cells > limits.sliceCells) {
    throw new SliceError(
      422,
      'LIMIT_SLICE_CELLS',
      `the slice selects ${cells} cells (${selection.refLayers} × ${selection.specLayers} × ${selection.checkpoints}), above the limit of ${limits.sliceCells} (MAX_SLICE_CELLS); ask for fewer layers or checkpoints`,
      { field: 'slice', limit: limits.sliceCells, value: cells },
    );
  }
  const values = cells * Math.max(1, options.coefficientWidth);
  const bytes = values * bytesPerValue(options.format, options.labelChars);
  if (bytes > limits.sliceBytes) {
    throw new SliceError(
      422,
      'LIMIT_SLICE_BYTES',
      `the answer would take about ${bytes} bytes (${values} values as ${options.format}), above the limit of ${limits.sliceBytes} (MAX_SLICE_BYTES); ask for fewer cells, or format=npy`,
      { field: 'slice', limit: limits.sliceBytes, value: bytes, values },
    );
  }
  return { cells, values, bytes };
}

/** What a slice query selects (GET …/tensor): layers by index or name, checkpoints one way. */
export interface SliceQuery {
  refLayer?: string;
  specLayer?: string;
  checkpoint?: string;
  step?: number;
  fraction?: number;
}

/** A layer of the experiment as a slice sees it. */
export interface SliceLayer {
  network: string;
  index: number;
  name: string;
  features: number;
}

/** The layers and checkpoints a slice reads, in the order asked. */
export interface SliceSelection {
  /** layer indices */
  refSel: number[];
  specSel: number[];
  /** their names: the labels of the answer */
  refLabels: string[];
  specLabels: string[];
  picked: SliceCheckpoint[];
  /** one checkpoint was asked for: the answer has no checkpoint axis */
  single: boolean;
}

/**
 * The layers and checkpoints a slice reads, checked against the slice limits before any cell is
 * loaded: 400 for an unknown or repeated index, 422 LIMIT_SLICE_CELLS / LIMIT_SLICE_BYTES.
 * `representationFeatures` stands for the width of a layer whose width is not known.
 */
export function sliceSelection(
  q: SliceQuery,
  layers: readonly SliceLayer[],
  checkpoints: readonly SliceCheckpoint[],
  options: { measure: SliceMeasure; format: SliceFormat },
  limits: SliceLimits & { representationFeatures: number },
): SliceSelection {
  const refNames = layers.filter((l) => l.network === 'reference').map((l) => l.name);
  const specNames = layers.filter((l) => l.network === 'specimen').map((l) => l.name);
  const refSel = selectLayers(q.refLayer, refNames, 'refLayer');
  const specSel = selectLayers(q.specLayer, specNames, 'specLayer');
  const { picked, single } = selectCheckpoints(q, checkpoints);
  // coefficient vectors are as long as the narrower layer of the pair (unknown widths: the limit)
  let coefficientWidth = 1;
  if (options.measure === 'coefficients') {
    const width = (network: string, index: number) =>
      layers.find((l) => l.network === network && l.index === index)?.features ||
      limits.representationFeatures;
    const refMax = Math.max(0, ...refSel.map((i) => width('reference', i)));
    const specMax = Math.max(0, ...specSel.map((j) => width('specimen', j)));
    coefficientWidth = Math.min(refMax, specMax);
  }
  const labelChars =
    Math.max(0, ...refSel.map((i) => refNames[i].length)) +
    Math.max(0, ...specSel.map((j) => specNames[j].length));
  planSlice(
    { refLayers: refSel.length, specLayers: specSel.length, checkpoints: picked.length },
    { format: options.format, coefficientWidth, labelChars },
    limits,
  );
  return {
    refSel,
    specSel,
    refLabels: refSel.map((i) => refNames[i]),
    specLabels: specSel.map((j) => specNames[j]),
    picked,
    single,
  };
}
