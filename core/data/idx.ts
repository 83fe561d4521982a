// Reader for the idx format of MNIST-style files: big-endian u32 magic (0x00000800 | ndim, with
// type byte 0x08 = unsigned byte), then ndim big-endian u32 dimensions, then the u8 data.
import { DatasetError } from './dataset.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || view.getUint16(0) !== 0 || bytes[2] !== 0x08) {
    throw new DatasetError('DATASET_CORRUPT', `${file}: not an idx file of unsigned bytes`);
  }
  const ndim = bytes[3];
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i));
  const start = 4 + 4 * ndim;
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== start + size) {
    throw new DatasetError(
      'DATASET_CORRUPT',
      `${file}: header says [${dims.join(', ')}] (${size} bytes) but the file holds ${bytes.length - start}`,
    );
  }
  return { dims, data: bytes.subarray(start) };
}
