// Whether two representations are identical: same dtype, same shape, same bytes. The tensor builder
// reuses the cells of a specimen representation identical to the same layer's at the previous
// checkpoint (the input layer, a frozen layer).

import type { Matrix2D } from './matrix.ts';

/** Same dtype, shape and bytes (a byte-for-byte comparison: memcmp, stopping at the first difference). */
export function identicalRepresentations(a: Matrix2D, b: Matrix2D): boolean {
  if (a.rows !== b.rows || a.cols !== b.cols) return false;
  if (a.data.constructor !== b.data.constructor || a.data.length !== b.data.length) return false;
  const bytes = (m: Matrix2D) => Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  return bytes(a).equals(bytes(b));
}
