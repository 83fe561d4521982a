// Fingerprints of representations: equal for identical ones (same dtype, shape and bytes), different
// otherwise except with negligible probability. The tensor builder reuses the cells of a specimen
// representation that is identical to the same layer's at the previous checkpoint.

import type { Matrix2D } from './matrix.ts';

/** dtype, shape and a 128-bit hash of the bytes: four 32-bit multiply-xor lanes and a final mix. */
export function representationFingerprint(m: Matrix2D): string {
  const { data, rows, cols } = m;
  const words = new Int32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
  let h0 = 0x243f6a88;
  let h1 = 0x85a308d3;
  let h2 = 0x13198a2e;
  let h3 = 0x03707344;
  const end = words.length & ~3;
  for (let i = 0; i < end; i += 4) {
    h0 = Math.imul(h0 ^ words[i]!, 0x9e3779b1);
    h0 ^= h0 >>> 15;
    h1 = Math.imul(h1 ^ words[i + 1]!, 0x85ebca77);
    h1 ^= h1 >>> 13;
    h2 = Math.imul(h2 ^ words[i + 2]!, 0xc2b2ae3d);
    h2 ^= h2 >>> 16;
    h3 = Math.imul(h3 ^ words[i + 3]!, 0x27d4eb2f);
    h3 ^= h3 >>> 15;
  }
  for (let i = end; i < words.length; i++) h0 = Math.imul(h0 ^ words[i]!, 0x165667b1) ^ (h0 >>> 13);
  const lanes = [h0, h1, h2, h3].map((h, l) => {
    let x = h ^ Math.imul(words.length, 0x9e3779b1 + l);
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    return ((x ^ (x >>> 16)) >>> 0).toString(16).padStart(8, '0');
  });
  return `${data instanceof Float32Array ? 'f4' : 'f8'}:${rows}x${cols}:js:${lanes.join('')}`;
}
