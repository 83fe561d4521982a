import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeNpy, encodeNpy, NpyError } from '../../core/npy.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const golden = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'cca-golden');

/** Builds a .npy file by hand: any version, any header text, any payload. */
function rawNpy(major: number, header: string, payload: Uint8Array): Uint8Array {
  const preamble = major === 1 ? 10 : 12;
  const headerBytes = new TextEncoder().encode(header);
  const padded = Math.ceil((preamble + headerBytes.length + 1) / 64) * 64 - preamble;
  const out = new Uint8Array(preamble + padded + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, padded, true);
  else view.setUint32(8, padded, true);
  out.fill(0x20, preamble, preamble + padded - 1);
  out.set(headerBytes, preamble);
  out[preamble + padded - 1] = 0x0a;
  out.set(payload, preamble + padded);
  return out;
}

function bytesOf(a: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function expectNpyError(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NpyError, `expected NpyError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

describe('npy', () => {
  it('round-trips float32 and float64 with a 64-byte aligned header', () => {
    const f32 = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 3);
    const f64 = Float64Array.from({ length: 6 }, (_, i) => Math.PI * i);
    for (const [data, shape, dtype] of [
      [f32, [3, 4], 'float32'],
      [f64, [6], 'float64'],
      [f64, [1, 2, 3], 'float64'],
    ] as const) {
      const buf = encodeNpy(data, shape);
      const headerLen = new DataView(buf.buffer).getUint16(8, true);
      assert.equal((10 + headerLen) % 64, 0);
      assert.equal(buf[10 + headerLen - 1], 0x0a);
      const out = decodeNpy(buf);
      assert.equal(out.dtype, dtype);
      assert.deepEqual(out.shape, [...shape]);
      assert.deepEqual(Array.from(out.data), Array.from(data));
    }
  });

  it('writes the header numpy writes', () => {
    const buf = encodeNpy(new Float32Array(6), [2, 3]);
    const header = new TextDecoder().decode(buf.subarray(10, 128)).trimEnd();
    assert.equal(header, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    const one = new TextDecoder().decode(encodeNpy(new Float64Array(2), [2]).subarray(10, 128)).trimEnd();
    assert.equal(one, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }");
  });

  it('returns an aligned copy even when the input is an unaligned view', () => {
    const enc = encodeNpy(Float64Array.from([1, 2, 3]), [3]);
    const shifted = new Uint8Array(enc.length + 3);
    shifted.set(enc, 3);
    const out = decodeNpy(shifted.subarray(3));
    assert.deepEqual(Array.from(out.data), [1, 2, 3]);
    assert.notEqual(out.data.buffer, shifted.buffer);
  });

  it('reads version 2.0 and 3.0 headers', () => {
    const data = Float64Array.from([1.5, -2, 3]);
    for (const major of [2, 3]) {
      const buf = rawNpy(major, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 1), }", bytesOf(data));
      const out = decodeNpy(buf);
      assert.deepEqual(out.shape, [3, 1]);
      assert.deepEqual(Array.from(out.data), [1.5, -2, 3]);
    }
  });

  it('reads the golden fixtures', () => {
    const out = decodeNpy(readFileSync(path.join(golden, 'scaled', 'x.npy')));
    assert.equal(out.dtype, 'float32');
    assert.deepEqual(out.shape, [500, 8]);
    assert.equal(out.data.length, 4000);
  });

  it('rejects big-endian, integer and structured dtypes', () => {
    const payload = new Uint8Array(16);
    expectNpyError(
      () => decodeNpy(rawNpy(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", payload)),
      'NPY_BIG_ENDIAN',
      />f8/,
    );
    expectNpyError(
      () => decodeNpy(rawNpy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", payload)),
      'NPY_UNSUPPORTED_DTYPE',
      /<i4/,
    );
    expectNpyError(
      () =>
        decodeNpy(rawNpy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", payload)),
      'NPY_UNSUPPORTED_DTYPE',
      /structured/,
    );
  });

  it('rejects Fortran order, truncated data, trailing bytes, bad magic and bad versions', () => {
    const f = bytesOf(new Float32Array(4));
    expectNpyError(
      () => decodeNpy(rawNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f)),
      'NPY_FORTRAN_ORDER',
      /Fortran/,
    );
    const good = encodeNpy(new Float32Array(4), [2, 2]);
    expectNpyError(
      () => decodeNpy(good.subarray(0, good.length - 1)),
      'NPY_TRUNCATED',
      /needs 16 data bytes/,
    );
    expectNpyError(() => decodeNpy(good.subarray(0, 40)), 'NPY_TRUNCATED', /header/);
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    expectNpyError(() => decodeNpy(longer), 'NPY_TRAILING_BYTES', /4 unexpected bytes/);
    expectNpyError(() => decodeNpy(new TextEncoder().encode('PK\x03\x04 not npy')), 'NPY_BAD_MAGIC', /magic/);
    const v9 = good.slice();
    v9[6] = 9;
    expectNpyError(() => decodeNpy(v9), 'NPY_UNSUPPORTED_VERSION', /9\.0/);
    expectNpyError(
      () => decodeNpy(rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2) ", f)),
      'NPY_BAD_HEADER',
      /malformed/,
    );
  });

  it('refuses to encode data that does not match the shape', () => {
    expectNpyError(() => encodeNpy(new Float32Array(5), [2, 3]), 'NPY_BAD_SHAPE', /6 values but data has 5/);
  });
});
