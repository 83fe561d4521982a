// A self-describing binary container for named float32 arrays (network weights, optimizer slots):
//   bytes 0-3   magic "RDW1"
//   bytes 4-7   header length L (u32 little-endian)
//   bytes 8..   UTF-8 JSON header: [{ "name", "shape" }, …] padded with spaces to a multiple of 4
//   then        each array's float32 values (little-endian, C order), in header order

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

const MAGIC = 'RDW1';

export function encodeArrays(arrays: NamedArray[]): Uint8Array {
  let json = JSON.stringify(arrays.map(({ name, shape }) => ({ name, shape })));
  json = json.padEnd(Math.ceil((json.length + 8) / 4) * 4 - 8, ' ');
  const header = new TextEncoder().encode(json);
  const values = arrays.reduce((n, a) => n + a.data.length, 0);
  const out = new Uint8Array(8 + header.length + 4 * values);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, header.length, true);
  out.set(header, 8);
  let offset = 8 + header.length;
  for (const a of arrays) {
    const expected = a.shape.reduce((x, y) => x * y, 1);
    if (expected !== a.data.length)
      throw new RangeError(`${a.name}: shape [${a.shape}] but ${a.data.length} values`);
    out.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), offset);
    offset += a.data.byteLength;
  }
  return out;
}

export function decodeArrays(bytes: Uint8Array): NamedArray[] {
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) {
    throw new Error('weights: not an RDW1 container');
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  const entries = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Array<{
    name: string;
    shape: number[];
  }>;
  let offset = 8 + headerLength;
  return entries.map(({ name, shape }) => {
    const count = shape.reduce((x, y) => x * y, 1);
    if (offset + 4 * count > bytes.length) throw new Error(`weights: container truncated inside '${name}'`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + 4 * count));
    offset += 4 * count;
    return { name, shape, data };
  });
}
