// Issue 14 item 2: .npy headers are attacker-supplied. Their length is capped (422
// NPY_HEADER_TOO_LARGE before anything is buffered), they parse without recursion, and a streamed
// header costs time linear in its size however it is chunked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IngestError, RepresentationIngest } from '../../core/ingest.ts';
import { decodeNpy, encodeNpy, NPY_MAX_HEADER_BYTES, NpyError, parseNpyHeader } from '../../core/npy.ts';

/** A version 2.0 preamble announcing `headerLen` bytes, followed by `header`. */
function v2(headerLen: number, header: string): Uint8Array {
  const out = new Uint8Array(12 + header.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0], 0);
  new DataView(out.buffer).setUint32(8, headerLen, true);
  for (let i = 0; i < header.length; i++) out[12 + i] = header.charCodeAt(i);
  return out;
}

const opts = { samples: 4, convMode: 'mean' as const, maxFeatures: 4096, maxConvSamples: 1000 };

function ingestCode(chunks: Iterable<Uint8Array>): string {
  const ing = new RepresentationIngest(opts);
  try {
    for (const c of chunks) ing.push(c);
    ing.end();
  } catch (err) {
    assert.ok(err instanceof IngestError, String(err));
    return err.code;
  }
  return 'OK';
}

describe('hostile .npy headers', () => {
  it('refuses a header announced above the cap from the first 12 bytes', () => {
    assert.equal(NPY_MAX_HEADER_BYTES, 64 * 1024);
    // 0xFFFFFFF0 announced: refused at the preamble, before the 48 MB of spaces would arrive
    const ing = new RepresentationIngest(opts);
    assert.throws(
      () => ing.push(v2(0xfffffff0, '')),
      (err: unknown) => err instanceof IngestError && err.code === 'NPY_HEADER_TOO_LARGE',
    );
    assert.throws(
      () => parseNpyHeader(v2(NPY_MAX_HEADER_BYTES + 1, '')),
      (err: unknown) => err instanceof NpyError && err.code === 'NPY_HEADER_TOO_LARGE',
    );
    assert.throws(
      () => decodeNpy(v2(0xfffffff0, ' '.repeat(100))),
      (err: unknown) => err instanceof NpyError && err.code === 'NPY_HEADER_TOO_LARGE',
    );
  });

  it('answers a header nested 60,000 deep with NPY_BAD_HEADER, not a stack overflow', () => {
    for (const open of ['[', '(', '{']) {
      const header = `{'shape': ${open.repeat(60_000)}`;
      const bytes = v2(header.length, header);
      assert.throws(
        () => parseNpyHeader(bytes),
        (err: unknown) => err instanceof NpyError && err.code === 'NPY_BAD_HEADER',
        open,
      );
      assert.equal(ingestCode([bytes]), 'NPY_BAD_HEADER');
    }
    // a deep but well-formed literal is refused too (bounded depth), without recursion
    const deep = `{'descr': '<f4', 'fortran_order': False, 'shape': ${'['.repeat(5000)}${']'.repeat(5000)}}`;
    assert.throws(
      () => parseNpyHeader(v2(deep.length, deep)),
      (err: unknown) => err instanceof NpyError && err.code === 'NPY_BAD_HEADER',
    );
  });

  it('streams a header byte by byte in linear time, and still reads what numpy writes', () => {
    // 60 KiB of padding fed one byte at a time: re-joining every chunk would copy ~1.8 GB
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }";
    const headerLen = 60 * 1024;
    const header = `${dict.padEnd(headerLen - 1, ' ')}\n`;
    const data = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const file = new Uint8Array(12 + headerLen + data.byteLength);
    file.set(v2(headerLen, header), 0);
    file.set(new Uint8Array(data.buffer), 12 + headerLen);
    const ing = new RepresentationIngest(opts);
    const started = performance.now();
    for (let i = 0; i < file.length; i++) ing.push(file.subarray(i, i + 1));
    ing.end();
    const ms = performance.now() - started;
    assert.deepEqual(ing.shape?.input.shape, [4, 2]);
    assert.ok(ms < 2_000, `byte-by-byte header took ${ms.toFixed(0)} ms`);
    // the ordinary path is unchanged
    const round = decodeNpy(encodeNpy(data, [4, 2]));
    assert.deepEqual(round.shape, [4, 2]);
    assert.deepEqual(Array.from(round.data), Array.from(data));
    // headers numpy may write: nested dtype-free literals, trailing commas, empty shape tuples
    const odd = "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'x': [1, (2,), {'a': []}], }";
    const parsed = parseNpyHeader(v2(odd.length, odd));
    assert.deepEqual(parsed?.shape, []);
    // a '__proto__' key is a plain key, not a prototype
    const proto = "{'__proto__': {'descr': '<f4'}, 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}";
    assert.deepEqual(parseNpyHeader(v2(proto.length, proto))?.shape, [1]);
  });
});
