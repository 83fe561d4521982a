// Reader and writer for NumPy's .npy format (versions 1.0, 2.0 and 3.0), limited to what the
// service exchanges: little-endian float32 ('<f4') or float64 ('<f8') arrays in C order.
// Spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//
// Layout: magic "\x93NUMPY", major, minor, header length (uint16 LE for 1.0, uint32 LE for 2.0/3.0),
// then an ASCII (1.0/2.0) or UTF-8 (3.0) Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2500, 60), }
// padded with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes.

export type NpyDtype = 'float32' | 'float64';

export type NpyErrorCode =
  | 'NPY_BAD_MAGIC'
  | 'NPY_UNSUPPORTED_VERSION'
  | 'NPY_BAD_HEADER'
  | 'NPY_HEADER_TOO_LARGE'
  | 'NPY_UNSUPPORTED_DTYPE'
  | 'NPY_BIG_ENDIAN'
  | 'NPY_FORTRAN_ORDER'
  | 'NPY_BAD_SHAPE'
  | 'NPY_TRUNCATED'
  | 'NPY_TRAILING_BYTES';

export class NpyError extends Error {
  readonly code: NpyErrorCode;
  constructor(code: NpyErrorCode, message: string) {
    super(message);
    this.name = 'NpyError';
    this.code = code;
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ALIGN = 64;

const DESCR: Record<NpyDtype, string> = { float32: '<f4', float64: '<f8' };

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Typed arrays use the host byte order; every platform Node supports in practice is little-endian.
  throw new Error('core/npy: big-endian hosts are not supported');
}

function shapeLiteral(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** The preamble and header of a .npy file (version 1.0, or 2.0 if the header is huge); data follows. */
export function encodeNpyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 0) {
      throw new NpyError('NPY_BAD_SHAPE', `npy: invalid dimension ${s} in shape [${shape.join(', ')}]`);
    }
  }
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  // Preamble = magic (6) + version (2) + header length (2 bytes for v1.0, 4 for v2.0).
  const version = dict.length + 1 + 10 > 0xffff ? 2 : 1;
  const preamble = version === 1 ? 10 : 12;
  const headerLen = Math.ceil((preamble + dict.length + 1) / ALIGN) * ALIGN - preamble;
  const header = dict.padEnd(headerLen - 1, ' ') + '\n';
  const out = new Uint8Array(preamble + headerLen);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  return out;
}

/** Encodes `data` (C order) with the given shape as a version 1.0 .npy file (2.0 if the header is huge). */
export function encodeNpy(data: Float32Array | Float64Array, shape: readonly number[]): Uint8Array {
  const dtype: NpyDtype = data instanceof Float32Array ? 'float32' : 'float64';
  const header = encodeNpyHeader(dtype, shape);
  if (elementCount(shape) !== data.length) {
    throw new NpyError(
      'NPY_BAD_SHAPE',
      `npy: shape [${shape.join(', ')}] holds ${elementCount(shape)} values but data has ${data.length}`,
    );
  }
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return out;
}

// --- header dict parsing: a tiny parser for the Python literals numpy writes -----------------------
// Iterative (an explicit stack, no recursion) and linear in the header's length: a header is
// attacker-supplied text, so nesting depth is bounded and nothing is re-scanned.

type PyValue = string | number | boolean | PyValue[] | { [key: string]: PyValue };

/** Deepest nesting accepted in a header (numpy writes depth 2: the dict and the shape tuple). */
const MAX_HEADER_DEPTH = 32;

type Frame =
  | { kind: 'seq'; out: PyValue[]; close: string }
  | { kind: 'dict'; out: { [key: string]: PyValue }; key: string | undefined };

class LiteralParser {
  private pos = 0;
  private readonly scalarRe = /True|False|-?\d+L?/y;
  constructor(private readonly text: string) {}

  parseDocument(): PyValue {
    const stack: Frame[] = [];
    let current: PyValue;
    for (;;) {
      // a value starts here (or the container around it closes, when it is empty or after a comma)
      this.skipSpace();
      const c = this.text[this.pos];
      const top = stack.at(-1);
      if (
        top &&
        ((top.kind === 'seq' && c === top.close) ||
          (top.kind === 'dict' && c === '}' && top.key === undefined))
      ) {
        this.pos++;
        stack.pop();
        current = top.out;
      } else if (c === '{' || c === '(' || c === '[') {
        if (stack.length >= MAX_HEADER_DEPTH) this.fail(`nested deeper than ${MAX_HEADER_DEPTH} levels`);
        this.pos++;
        stack.push(
          c === '{'
            ? { kind: 'dict', out: Object.create(null) as { [key: string]: PyValue }, key: undefined }
            : { kind: 'seq', out: [], close: c === '(' ? ')' : ']' },
        );
        continue;
      } else {
        current = this.scalar();
      }
      // a value is complete: attach it to its container, then expect a separator or a close
      for (;;) {
        const frame = stack.at(-1);
        if (!frame) {
          this.skipSpace();
          if (this.pos !== this.text.length) this.fail('unexpected text after the dict');
          return current;
        }
        this.skipSpace();
        const next = this.text[this.pos];
        if (frame.kind === 'seq') {
          frame.out.push(current);
          if (next === ',') break;
          if (next !== frame.close) this.fail(`expected ',' or '${frame.close}'`);
        } else if (frame.key === undefined) {
          if (typeof current !== 'string') this.fail('dict key is not a string');
          if (next !== ':') this.fail("expected ':'");
          frame.key = current;
          break;
        } else {
          frame.out[frame.key] = current;
          frame.key = undefined;
          if (next === ',') break;
          if (next !== '}') this.fail("expected ',' or '}'");
        }
        // the container closes: it is the value just completed one level up
        this.pos++;
        stack.pop();
        current = frame.out;
      }
      this.pos++; // the ',' or ':'
    }
  }

  private fail(what: string): never {
    throw new NpyError(
      'NPY_BAD_HEADER',
      `npy: malformed header (${what} at offset ${this.pos}): ${this.text.slice(0, 200)}${this.text.length > 200 ? '…' : ''}`,
    );
  }

  private skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const ch = t.charCodeAt(this.pos);
      if (ch !== 0x20 && ch !== 0x0a && ch !== 0x0d && ch !== 0x09 && ch !== 0x0b && ch !== 0x0c) break;
      this.pos++;
    }
  }

  private scalar(): PyValue {
    const c = this.text[this.pos];
    if (c === "'" || c === '"') {
      const end = this.text.indexOf(c, this.pos + 1);
      if (end < 0) this.fail('unterminated string');
      const s = this.text.slice(this.pos + 1, end);
      this.pos = end + 1;
      return s;
    }
    this.scalarRe.lastIndex = this.pos;
    const word = this.scalarRe.exec(this.text);
    if (!word) this.fail('unexpected token');
    this.pos += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    return Number.parseInt(word[0], 10);
  }
}

function parseDescr(descr: PyValue): NpyDtype {
  if (typeof descr !== 'string') {
    throw new NpyError('NPY_UNSUPPORTED_DTYPE', 'npy: structured dtypes are not supported (need <f4 or <f8)');
  }
  const m = /^([<>=|])([a-zA-Z])(\d+)$/.exec(descr);
  const float = m && m[2] === 'f' && (m[3] === '4' || m[3] === '8');
  if (m && float && m[1] === '>') {
    throw new NpyError(
      'NPY_BIG_ENDIAN',
      `npy: big-endian dtype '${descr}' is not supported (need <f4 or <f8)`,
    );
  }
  // '=' means native order, which numpy never writes to files; accept only the explicit '<'.
  if (!m || !float || m[1] !== '<') {
    throw new NpyError('NPY_UNSUPPORTED_DTYPE', `npy: dtype '${descr}' is not supported (need <f4 or <f8)`);
  }
  return m[3] === '4' ? 'float32' : 'float64';
}

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first array element. */
  dataOffset: number;
  /** Bytes of array data that follow the header (elements × item size). */
  dataBytes: number;
}

/**
 * Longest header accepted (64 KiB). numpy writes a few hundred bytes (and itself refuses headers
 * above 10,000 bytes unless asked); a longer one is refused before it is buffered.
 */
export const NPY_MAX_HEADER_BYTES = 64 * 1024;

/**
 * The bytes a .npy file's preamble and header take (the data offset), from its first 12 bytes; null
 * while fewer have arrived. Throws NpyError for a bad magic, an unknown version or a header longer
 * than NPY_MAX_HEADER_BYTES (NPY_HEADER_TOO_LARGE).
 */
export function npyHeaderSize(bytes: ArrayBufferView): number | null {
  const buf = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const known = Math.min(buf.length, MAGIC.length);
  if (MAGIC.slice(0, known).some((b, i) => buf[i] !== b)) {
    throw new NpyError('NPY_BAD_MAGIC', 'npy: not a .npy file (missing \\x93NUMPY magic)');
  }
  if (buf.length < 8) return null;
  const major = buf[6]!;
  const minor = buf[7]!;
  if (![1, 2, 3].includes(major) || minor !== 0) {
    throw new NpyError('NPY_UNSUPPORTED_VERSION', `npy: format version ${major}.${minor} is not supported`);
  }
  const preamble = major === 1 ? 10 : 12;
  if (buf.length < preamble) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLen > NPY_MAX_HEADER_BYTES) {
    throw new NpyError(
      'NPY_HEADER_TOO_LARGE',
      `npy: the header announces ${headerLen} bytes, above the limit of ${NPY_MAX_HEADER_BYTES} (numpy writes a few hundred)`,
    );
  }
  return preamble + headerLen;
}

/**
 * Parses the preamble and header at the start of `bytes` (which may hold only the beginning of a
 * file: a streaming reader calls it as bytes arrive). Returns null while the header is incomplete;
 * throws NpyError for anything but little-endian float32/float64 in C order.
 */
export function parseNpyHeader(bytes: ArrayBufferView): NpyHeader | null {
  const buf = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = npyHeaderSize(buf);
  if (size === null || buf.length < size) return null;
  const major = buf[6]!;
  const preamble = major === 1 ? 10 : 12;
  const headerLen = size - preamble;
  const headerBytes = buf.subarray(preamble, preamble + headerLen);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes).trim();

  const dict = new LiteralParser(header).parseDocument();
  if (typeof dict !== 'object' || Array.isArray(dict)) {
    throw new NpyError('NPY_BAD_HEADER', `npy: header is not a dict: ${header.slice(0, 200)}`);
  }
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!(key in dict))
      throw new NpyError('NPY_BAD_HEADER', `npy: header lacks '${key}': ${header.slice(0, 200)}`);
  }
  const dtype = parseDescr(dict['descr']!);
  if (dict['fortran_order'] !== false) {
    throw new NpyError(
      'NPY_FORTRAN_ORDER',
      'npy: Fortran-ordered arrays are not supported (save in C order)',
    );
  }
  const rawShape = dict['shape'];
  if (
    !Array.isArray(rawShape) ||
    rawShape.some((s) => typeof s !== 'number' || s < 0 || !Number.isSafeInteger(s))
  ) {
    throw new NpyError('NPY_BAD_HEADER', `npy: invalid shape in header: ${header.slice(0, 200)}`);
  }
  const shape = rawShape as number[];
  const itemSize = dtype === 'float32' ? 4 : 8;
  return { dtype, shape, dataOffset: preamble + headerLen, dataBytes: elementCount(shape) * itemSize };
}

/**
 * Decodes a .npy file held in `bytes` (a Uint8Array, or a Node Buffer straight from fs.readFile).
 * The returned data is a fresh, aligned copy (never a view into `bytes`).
 * Throws NpyError with a code for anything but little-endian float32/float64 in C order.
 */
export function decodeNpy(bytes: ArrayBufferView): {
  dtype: NpyDtype;
  shape: number[];
  data: Float32Array | Float64Array;
} {
  const buf = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) {
    throw new NpyError('NPY_BAD_MAGIC', 'npy: not a .npy file (missing \\x93NUMPY magic)');
  }
  const parsed = parseNpyHeader(buf);
  if (!parsed) throw new NpyError('NPY_TRUNCATED', 'npy: file ends inside the header');
  const { dtype, shape } = parsed;
  const count = elementCount(shape);
  const start = parsed.dataOffset;
  const byteLength = parsed.dataBytes;
  if (buf.length - start < byteLength) {
    throw new NpyError(
      'NPY_TRUNCATED',
      `npy: shape [${shape.join(', ')}] needs ${byteLength} data bytes but the file has ${buf.length - start}`,
    );
  }
  if (buf.length - start > byteLength) {
    throw new NpyError(
      'NPY_TRAILING_BYTES',
      `npy: ${buf.length - start - byteLength} unexpected bytes after the ${byteLength}-byte array`,
    );
  }
  const data = dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
  new Uint8Array(data.buffer).set(buf.subarray(start, start + byteLength));
  return { dtype, shape, data };
}
