// Streaming ingestion of an uploaded representation: a .npy byte stream ([samples, …], float32 or
// float64, little-endian, C order) becomes a stored [samples, features] .npy of the same dtype
// (float32 stays float32, float64 stays float64: nothing is rounded), chunk by chunk, validated as it
// goes (header, sample count, size, and finiteness of the values as stored). Layers are turned into
// matrices like captured ones (core/train/capture.ts):
//   [n]            one feature
//   [n, d]         as is
//   [n, h, w, c]   a conv layer, reduced by the conv mode (core/cca/conv.ts): 'positions' keeps the
//                  same deterministic (example, position) rows a trained run keeps, 'mean' averages
//                  over positions (in float64, stored in the upload's dtype), 'flatten' keeps
//                  every (position, channel)
//   other ranks    flattened to [n, product of the rest]
// Memory: one chunk, plus [n, c] float64 sums in 'mean' mode; the full array is never held.
// Float64 uploads are stored (and compared) in float64: a value that is finite in the file stays
// finite (a float64 1e39 or 1e160 is not rounded to a float32 Infinity, 1e-160 not to 0).
import { positionSampleIndices } from './cca/conv.ts';
import { encodeNpyHeader, NpyError, type NpyHeader, npyHeaderSize, parseNpyHeader } from './npy.ts';
import type { ConvMode } from './spec/run.ts';

/** Seed of the 'positions' subsample: the one capture uses, so uploads keep the same rows. */
const POSITIONS_SEED = 0;

export type IngestErrorCode =
  | NpyError['code']
  | 'SAMPLE_COUNT_MISMATCH'
  | 'EMPTY_REPRESENTATION'
  | 'NON_FINITE_VALUE'
  | 'LIMIT_REPRESENTATION_FEATURES';

export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'IngestError';
  }
}

export interface IngestOptions {
  /** Declared probe samples: the first axis of the array must have this length. */
  samples: number;
  convMode: ConvMode;
  /** Widest representation accepted (columns after reduction). */
  maxFeatures: number;
  /** 'positions' mode: most rows kept. */
  maxConvSamples: number;
}

export interface IngestedShape {
  /** Shape and dtype of the uploaded array. */
  input: { dtype: 'float32' | 'float64'; shape: number[] };
  kind: 'dense' | 'conv';
  rows: number;
  cols: number;
}

type Mode =
  | { type: 'copy' }
  | { type: 'positions'; keep: Uint32Array; c: number }
  | { type: 'mean'; sums: Float64Array; positions: number; c: number };

/**
 * Feed the upload's bytes to push(); each call returns the bytes of the stored file to append
 * (the output header comes first). end() checks that the array was complete and returns the rest.
 * Errors are IngestError with a stable code naming the problem.
 */
export class RepresentationIngest {
  /** Bytes received before the end of the header, kept as they came (joined only when enough arrived). */
  private head: Uint8Array[] = [];
  private headBytes = 0;
  /** Bytes needed before the header is looked at again: more than before while the preamble is
   * incomplete, then the size it announces. */
  private headNeed = 1;
  private header: NpyHeader | null = null;
  private mode: Mode = { type: 'copy' };
  private leftover: Uint8Array = new Uint8Array(0);
  /** Array elements consumed so far. */
  private consumed = 0;
  private total = 0;
  private keepPtr = 0;
  shape: IngestedShape | null = null;

  constructor(private readonly options: IngestOptions) {}

  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let data = chunk;
    if (!this.header) {
      // Linear in the header's size: chunks are joined only when the bytes the header needs (the
      // preamble, then the size it announces, at most NPY_MAX_HEADER_BYTES) have all arrived.
      this.head.push(chunk);
      this.headBytes += chunk.length;
      if (this.headBytes < this.headNeed) return out;
      const joined = this.head.length === 1 ? this.head[0] : concatAll(this.head, this.headBytes);
      this.head = [joined];
      const size = this.guard(() => npyHeaderSize(joined));
      if (size === null || joined.length < size) {
        this.headNeed = size ?? joined.length + 1;
        return out;
      }
      const header = this.guard(() => parseNpyHeader(joined));
      if (!header) return out;
      this.header = header;
      this.head = [];
      this.start(header);
      if (this.mode.type !== 'mean')
        out.push(encodeNpyHeader(header.dtype, [this.shape!.rows, this.shape!.cols]));
      data = joined.subarray(header.dataOffset);
    }
    const converted = this.convert(data);
    if (converted && converted.length > 0) out.push(new Uint8Array(converted.buffer));
    return out;
  }

  end(): Uint8Array[] {
    if (!this.header) {
      throw new IngestError('NPY_TRUNCATED', 'npy: the body ends before the end of the .npy header');
    }
    if (this.consumed < this.total || this.leftover.length > 0) {
      const itemSize = this.header.dtype === 'float32' ? 4 : 8;
      throw new IngestError(
        'NPY_TRUNCATED',
        `npy: shape [${this.header.shape.join(', ')}] needs ${this.header.dataBytes} data bytes but the body has ${this.consumed * itemSize + this.leftover.length}`,
      );
    }
    if (this.mode.type !== 'mean') return [];
    const { sums, positions } = this.mode;
    const dtype = this.header.dtype;
    let mean: Float32Array | Float64Array;
    if (dtype === 'float32') {
      mean = new Float32Array(sums.length);
      for (let i = 0; i < sums.length; i++) mean[i] = sums[i] / positions;
    } else mean = sums; // float64: already the means (sums of v / positions, which cannot overflow)
    const cols = this.shape!.cols;
    for (let i = 0; i < mean.length; i++) {
      if (!Number.isFinite(mean[i])) {
        throw new IngestError(
          'NON_FINITE_VALUE',
          `the mean over positions at sample ${Math.floor(i / cols)}, channel ${i % cols} is ${mean[i]}; every value must be finite`,
          { sample: Math.floor(i / cols), feature: i % cols, value: String(mean[i]) },
        );
      }
    }
    return [encodeNpyHeader(dtype, [this.shape!.rows, this.shape!.cols]), new Uint8Array(mean.buffer)];
  }

  private guard<T>(parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (err instanceof NpyError) throw new IngestError(err.code, err.message);
      throw err;
    }
  }

  private start(h: NpyHeader): void {
    const { samples, convMode, maxFeatures, maxConvSamples } = this.options;
    const shape = h.shape;
    if (shape.length === 0) {
      throw new IngestError('NPY_BAD_SHAPE', 'the array is a scalar; need [samples, …]');
    }
    if (shape[0] !== samples) {
      throw new IngestError(
        'SAMPLE_COUNT_MISMATCH',
        `the array has ${shape[0]} samples (shape [${shape.join(', ')}]) but the experiment declares ${samples}`,
        { expected: samples, actual: shape[0], shape },
      );
    }
    const rest = shape.slice(1);
    const per = rest.reduce((a, b) => a * b, 1);
    if (per === 0) {
      throw new IngestError('EMPTY_REPRESENTATION', `the array [${shape.join(', ')}] has no features`);
    }
    this.total = samples * per;
    let rows = samples;
    let cols = per;
    let kind: IngestedShape['kind'] = 'dense';
    if (shape.length === 4) {
      kind = 'conv';
      const [n, hh, ww, c] = shape as [number, number, number, number];
      if (convMode === 'positions') {
        const keep = positionSampleIndices(n, hh, ww, maxConvSamples, POSITIONS_SEED);
        this.mode = { type: 'positions', keep, c };
        rows = keep.length;
        cols = c;
      } else if (convMode === 'mean') {
        this.mode = { type: 'mean', sums: new Float64Array(n * c), positions: hh * ww, c };
        cols = c;
      }
    }
    if (cols > maxFeatures) {
      throw new IngestError(
        'LIMIT_REPRESENTATION_FEATURES',
        `the array [${shape.join(', ')}] gives ${cols} features in '${convMode}' mode, above the limit of ${maxFeatures}`,
        { limit: maxFeatures, value: cols, shape },
      );
    }
    this.shape = { input: { dtype: h.dtype, shape }, kind, rows, cols };
  }

  /**
   * Reads whole elements of `data` (after any leftover bytes) and returns the values to write, in the
   * upload's dtype (checked finite as stored).
   */
  private convert(data: Uint8Array): Float32Array | Float64Array | null {
    const h = this.header!;
    const itemSize = h.dtype === 'float32' ? 4 : 8;
    const bytes = this.leftover.length > 0 ? concat(this.leftover, data) : data;
    const available = Math.floor(bytes.length / itemSize);
    const count = Math.min(available, this.total - this.consumed);
    const spare = bytes.length - count * itemSize;
    if (count === this.total - this.consumed && spare > 0) {
      throw new IngestError(
        'NPY_TRAILING_BYTES',
        `npy: unexpected bytes after the ${h.dataBytes}-byte array`,
      );
    }
    this.leftover = bytes.slice(count * itemSize);
    if (count === 0) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, count * itemSize);
    const f32 = h.dtype === 'float32';
    const base = this.consumed;
    const cols = h.shape.slice(1).reduce((a, b) => a * b, 1);
    const bad = (k: number, v: number) => {
      const g = base + k;
      throw new IngestError(
        'NON_FINITE_VALUE',
        `the array holds ${v} at sample ${Math.floor(g / cols)}, flat feature ${g % cols}; every value must be finite`,
        { sample: Math.floor(g / cols), feature: g % cols, value: String(v) },
      );
    };
    let result: Float32Array | Float64Array | null = null;
    const mode = this.mode;
    if (mode.type === 'copy') {
      result = f32 ? new Float32Array(count) : new Float64Array(count);
      for (let k = 0; k < count; k++) {
        const v = f32 ? view.getFloat32(k * 4, true) : view.getFloat64(k * 8, true);
        if (!Number.isFinite(v)) bad(k, v);
        result[k] = v;
      }
    } else if (mode.type === 'positions') {
      const { keep, c } = mode;
      const kept: number[] = [];
      for (let k = 0; k < count; k++) {
        const v = f32 ? view.getFloat32(k * 4, true) : view.getFloat64(k * 8, true);
        if (!Number.isFinite(v)) bad(k, v);
        const row = Math.floor((base + k) / c);
        while (this.keepPtr < keep.length && keep[this.keepPtr] < row) this.keepPtr++;
        if (this.keepPtr < keep.length && keep[this.keepPtr] === row) kept.push(v);
      }
      result = f32 ? Float32Array.from(kept) : Float64Array.from(kept);
    } else {
      const { sums, positions, c } = mode;
      for (let k = 0; k < count; k++) {
        const v = f32 ? view.getFloat32(k * 4, true) : view.getFloat64(k * 8, true);
        if (!Number.isFinite(v)) bad(k, v);
        const g = base + k;
        // float64: the mean accumulates v / positions (bounded by the largest |v|, so it never
        // overflows as a sum of values near the float64 maximum would); float32 sums fit in float64
        sums[Math.floor(g / (positions * c)) * c + (g % c)] += f32 ? v : v / positions;
      }
    }
    this.consumed += count;
    return result;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function concatAll(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
