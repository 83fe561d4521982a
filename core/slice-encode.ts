// A tensor slice serialised: the values of a selection (core/slice.ts) as nested JSON (the Slice
// contract), a float32 .npy of exactly the announced shape, or long-form CSV. Pure: the cells are
// read through a SliceReader, so the caller decides where they come from.
import type { SliceAxis, Slice as SliceJson } from './contracts/slice.ts';
import { encodeNpy } from './npy.ts';
import type { SliceFormat, SliceMeasure, SliceSelection } from './slice.ts';

/** What the encoder reads of the cell (refLayer, specLayer, checkpoint index). */
export interface SliceReader {
  /** the measure's value; null for a cell not computed (yet) or a missing value */
  value(ref: number, spec: number, checkpoint: number): number | null;
  /** the cell's coefficient vector; empty for a cell not computed (yet) */
  coefficients(ref: number, spec: number, checkpoint: number): Float64Array;
}

export interface EncodedSlice {
  body: Buffer;
  contentType: string;
  /** the length of each axis (the .npy's shape) */
  shape: number[];
  axes: SliceAxis[];
}

/** The values of a selection in C order over (i, j, [t], [k]); coefficients null-padded to `width`. */
interface Flat {
  values: (number | null)[];
  shape: number[];
  axes: SliceAxis[];
  /** the longest coefficient vector (0 for a scalar measure) */
  width: number;
  /** the coefficient vector of (i, j, t), by position in the selection */
  coefOf: (i: number, j: number, t: number) => Float64Array;
}

function flatten(sel: SliceSelection, read: SliceReader, measure: SliceMeasure): Flat {
  const { refSel, specSel, picked, single } = sel;
  const coefs = measure === 'coefficients';
  const decoded = new Map<string, Float64Array>();
  const coefOf = (i: number, j: number, t: number) => {
    const key = `${i}/${j}/${t}`;
    let v = decoded.get(key);
    if (!v) {
      v = read.coefficients(refSel[i], specSel[j], picked[t].index);
      decoded.set(key, v);
    }
    return v;
  };
  const [nR, nS, nT] = [refSel.length, specSel.length, picked.length];
  let width = 0;
  if (coefs)
    for (let i = 0; i < nR; i++)
      for (let j = 0; j < nS; j++)
        for (let t = 0; t < nT; t++) width = Math.max(width, coefOf(i, j, t).length);
  const shape = [nR, nS, ...(single ? [] : [nT]), ...(coefs ? [width] : [])];
  const axes: SliceAxis[] = [
    'refLayer',
    'specLayer',
    ...(single ? [] : (['checkpoint'] as const)),
    ...(coefs ? (['coefficient'] as const) : []),
  ];
  const values: (number | null)[] = [];
  for (let i = 0; i < nR; i++)
    for (let j = 0; j < nS; j++)
      for (let t = 0; t < nT; t++) {
        if (!coefs) values.push(read.value(refSel[i], specSel[j], picked[t].index));
        else {
          const v = coefOf(i, j, t);
          for (let k = 0; k < width; k++) values.push(k < v.length ? v[k] : null);
        }
      }
  return { values, shape, axes, width, coefOf };
}

/** Long form, one row per value; coefficients only as far as each vector goes, no padding. */
function csvOf(sel: SliceSelection, flat: Flat, measure: SliceMeasure): Buffer {
  const coefs = measure === 'coefficients';
  const lines = [`refLayer,specLayer,checkpoint,step,fraction,measure${coefs ? ',coefficient' : ''},value`];
  let n = 0;
  for (let i = 0; i < sel.refSel.length; i++)
    for (let j = 0; j < sel.specSel.length; j++)
      for (let t = 0; t < sel.picked.length; t++) {
        const c = sel.picked[t];
        const prefix = `${sel.refLabels[i]},${sel.specLabels[j]},${c.index},${c.step},${c.fraction},${measure}`;
        if (!coefs) {
          const v = flat.values[n++];
          lines.push(`${prefix},${v === null ? '' : v}`);
        } else {
          const len = flat.coefOf(i, j, t).length;
          for (let k = 0; k < flat.width; k++) {
            const v = flat.values[n++];
            if (k < len) lines.push(`${prefix},${k},${v}`);
          }
        }
      }
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** The Slice contract: values nested along `shape`; `counts` gives each coefficient vector's length. */
function jsonOf(sel: SliceSelection, flat: Flat, measure: SliceMeasure): SliceJson {
  const { values, shape, axes } = flat;
  const nest = (offset: number, dims: number[]): unknown =>
    dims.length === 0
      ? values[offset]
      : Array.from({ length: dims[0] }, (_, a) =>
          nest(offset + a * dims.slice(1).reduce((x, y) => x * y, 1), dims.slice(1)),
        );
  const counts =
    measure === 'coefficients'
      ? sel.refSel.map((_, i) =>
          sel.specSel.map((_, j) => {
            const per = sel.picked.map((_, t) => flat.coefOf(i, j, t).length);
            return sel.single ? per[0] : per;
          }),
        )
      : undefined;
  return {
    shape,
    axes,
    measure,
    labels: {
      refLayer: sel.refLabels,
      specLayer: sel.specLabels,
      checkpoint: sel.single ? sel.picked[0] : sel.picked,
    },
    values: nest(0, shape) as SliceJson['values'],
    ...(counts ? { counts } : {}),
  };
}

/**
 * One slice serialised. npy: float32 with exactly the announced shape, NaN for cells not computed
 * (yet); JSON: null for those, coefficients null-padded to the longest vector; CSV: long form.
 */
export function encodeSlice(
  sel: SliceSelection,
  read: SliceReader,
  measure: SliceMeasure,
  format: SliceFormat,
): EncodedSlice {
  const flat = flatten(sel, read, measure);
  const { shape, axes } = flat;
  if (format === 'npy') {
    const data = Float32Array.from(flat.values, (v) => (v === null ? Number.NaN : v));
    return {
      body: Buffer.from(encodeNpy(data, shape)),
      contentType: 'application/octet-stream',
      shape,
      axes,
    };
  }
  if (format === 'csv')
    return { body: csvOf(sel, flat, measure), contentType: 'text/csv; charset=utf-8', shape, axes };
  const json = jsonOf(sel, flat, measure);
  return {
    body: Buffer.from(JSON.stringify(json)),
    contentType: 'application/json; charset=utf-8',
    shape,
    axes,
  };
}
