// Streaming ingestion of uploaded .npy representations: the stored matrix equals what a trained run
// would store (reduceConv for conv layers) whatever the chunking; bad input fails with a named code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { positionSampleIndices, reduceConv } from '../../core/cca/conv.ts';
import { IngestError, type IngestOptions, RepresentationIngest } from '../../core/ingest.ts';
import { decodeNpy, encodeNpy } from '../../core/npy.ts';

function ingest(
  bytes: Uint8Array,
  options: IngestOptions,
  chunk = 7,
): { data: Float32Array | Float64Array; shape: number[]; dtype: 'float32' | 'float64' } {
  const ing = new RepresentationIngest(options);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(...ing.push(bytes.subarray(i, i + chunk)));
  parts.push(...ing.end());
  const all = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const { data, shape, dtype } = decodeNpy(all);
  assert.equal(dtype, ing.shape!.input.dtype, 'stored in the uploaded dtype');
  assert.deepEqual(shape, [ing.shape!.rows, ing.shape!.cols]);
  return { data, shape, dtype };
}

const opts = (o: Partial<IngestOptions> = {}): IngestOptions => ({
  samples: 5,
  convMode: 'mean',
  maxFeatures: 4096,
  maxConvSamples: 20_000,
  ...o,
});

function ramp(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 3 + i * 1e-3);
}

function ingestError(bytes: Uint8Array, options: IngestOptions): IngestError {
  try {
    ingest(bytes, options, 13);
  } catch (err) {
    assert.ok(err instanceof IngestError, String(err));
    return err;
  }
  assert.fail('expected an IngestError');
}

describe('RepresentationIngest', () => {
  it('stores [n, d] float64 as float64 and float32 as float32, bit for bit, for any chunking', () => {
    const x = ramp(5 * 3);
    for (const chunk of [1, 3, 64, 1000]) {
      const { data, shape, dtype } = ingest(encodeNpy(x, [5, 3]), opts(), chunk);
      assert.deepEqual(shape, [5, 3]);
      assert.equal(dtype, 'float64');
      assert.deepEqual(data, x);
      const f = ingest(encodeNpy(Float32Array.from(x), [5, 3]), opts(), chunk);
      assert.equal(f.dtype, 'float32');
      assert.deepEqual(f.data, Float32Array.from(x));
    }
    const one = ingest(encodeNpy(Float32Array.from(ramp(5)), [5]), opts());
    assert.deepEqual(one.shape, [5, 1]);
  });

  it('reduces [n, h, w, c] like a trained run in every conv mode', () => {
    const shape: [number, number, number, number] = [5, 3, 4, 2];
    const x = Float32Array.from(ramp(5 * 3 * 4 * 2));
    for (const mode of ['positions', 'mean', 'flatten'] as const) {
      const expected = reduceConv(x, shape, mode, { maxSamples: 17, seed: 0 });
      const got = ingest(encodeNpy(x, shape), opts({ convMode: mode, maxConvSamples: 17 }), 11);
      assert.deepEqual(got.shape, [expected.rows, expected.cols], mode);
      for (let i = 0; i < expected.data.length; i++)
        assert.ok(Math.abs(got.data[i] - expected.data[i]) < 1e-6, `${mode} [${i}]`);
    }
  });

  it('names the problem: sample count, non-finite values, truncation, trailing bytes, dtype, width', () => {
    assert.equal(ingestError(encodeNpy(ramp(12), [4, 3]), opts()).code, 'SAMPLE_COUNT_MISMATCH');
    const nan = ramp(15);
    nan[7] = Number.NaN;
    const e = ingestError(encodeNpy(nan, [5, 3]), opts());
    assert.equal(e.code, 'NON_FINITE_VALUE');
    assert.deepEqual([e.details?.['sample'], e.details?.['feature']], [2, 1]);
    const inf = Float32Array.from(ramp(15));
    inf[14] = Number.NEGATIVE_INFINITY;
    assert.equal(ingestError(encodeNpy(inf, [5, 3]), opts()).code, 'NON_FINITE_VALUE');
    const full = encodeNpy(ramp(15), [5, 3]);
    assert.equal(ingestError(full.subarray(0, full.length - 3), opts()).code, 'NPY_TRUNCATED');
    assert.equal(ingestError(full.subarray(0, 40), opts()).code, 'NPY_TRUNCATED');
    const extra = new Uint8Array(full.length + 4);
    extra.set(full);
    assert.equal(ingestError(extra, opts()).code, 'NPY_TRAILING_BYTES');
    const int = full.slice();
    const at = Buffer.from(int).indexOf('<f8');
    int[at + 1] = 'i'.charCodeAt(0); // descr '<f8' → '<i8'
    assert.equal(ingestError(int, opts()).code, 'NPY_UNSUPPORTED_DTYPE');
    assert.equal(ingestError(new TextEncoder().encode('{"not": "npy"}'), opts()).code, 'NPY_BAD_MAGIC');
    assert.equal(
      ingestError(encodeNpy(ramp(15), [5, 3]), opts({ maxFeatures: 2 })).code,
      'LIMIT_REPRESENTATION_FEATURES',
    );
  });

  it('keeps float64 magnitudes float32 cannot hold: 1e39, 1e160, 1e300 stay finite, 1e-160 stays non-zero', () => {
    for (const scale of [1e39, 1e160, 1e300, 1e-160, 1e-300]) {
      const x = Float64Array.from(ramp(15), (v) => v * scale);
      const { data, dtype } = ingest(encodeNpy(x, [5, 3]), opts(), 5);
      assert.equal(dtype, 'float64');
      assert.deepEqual(data, x, `x ${scale}`);
      for (const v of data) assert.ok(Number.isFinite(v), `x ${scale}: ${v}`);
    }
    // exactly collinear neurons and a large offset: no rounding at all
    const base = ramp(5);
    const collinear = new Float64Array(15);
    for (let i = 0; i < 5; i++) {
      collinear[i * 3] = base[i]!;
      collinear[i * 3 + 1] = base[i]! * 3 + 1e6;
      collinear[i * 3 + 2] = base[i]! / 7;
    }
    assert.deepEqual(ingest(encodeNpy(collinear, [5, 3]), opts()).data, collinear);
  });

  it('reduces float64 conv layers in float64, without overflow near the float64 maximum', () => {
    const shape: [number, number, number, number] = [5, 3, 4, 2];
    const x = Float64Array.from(ramp(5 * 3 * 4 * 2), (v) => v * 1e100);
    const c = 2;
    const rows = positionSampleIndices(5, 3, 4, 17, 0);
    const expected = {
      positions: Float64Array.from(
        { length: rows.length * c },
        (_, k) => x[rows[Math.floor(k / c)]! * c + (k % c)]!,
      ),
      mean: Float64Array.from({ length: 5 * c }, (_, k) => {
        const [i, ch] = [Math.floor(k / c), k % c];
        let s = 0;
        for (let p = 0; p < 12; p++) s += x[(i * 12 + p) * c + ch]!;
        return s / 12;
      }),
      flatten: x,
    };
    for (const mode of ['positions', 'mean', 'flatten'] as const) {
      const got = ingest(encodeNpy(x, shape), opts({ convMode: mode, maxConvSamples: 17 }), 11);
      assert.equal(got.dtype, 'float64', mode);
      assert.equal(got.data.length, expected[mode].length, mode);
      for (let i = 0; i < expected[mode].length; i++) {
        const want = expected[mode][i]!;
        assert.ok(Math.abs(got.data[i]! - want) <= 1e-15 * Math.abs(want) + 1e86, `${mode} [${i}]`);
      }
    }
    // 12 positions of 1.7e308: their sum overflows, their mean does not
    const huge = new Float64Array(5 * 3 * 4 * 2).fill(1.7e308);
    const mean = ingest(encodeNpy(huge, shape), opts({ convMode: 'mean' }));
    for (const v of mean.data) assert.ok(Math.abs(v - 1.7e308) <= 1e-12 * 1.7e308, `mean ${v}`);
  });
});
