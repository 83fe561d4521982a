// Filesystem artifact store for one run:
//   <root>/runs/<runKey>/state.json
//   <root>/runs/<runKey>/ckpt-0003/weights.rdw         network weights (core/nets/weights.ts container)
//   <root>/runs/<runKey>/ckpt-0003/optimizer.rdw       optimizer slots (latest checkpoint only)
//   <root>/runs/<runKey>/ckpt-0003/<layer>.npy         representation [samples, features]: float32
//                                                      (captured, float32 uploads) or float64
//                                                      (float64 uploads), never converted
// Every write goes to a temporary file in the same directory and is renamed into place, so a crash
// never leaves a partial file under a final name.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Matrix2D } from '../core/cca/matrix.ts';
import { encodeNpy, NpyError, type NpyHeader, parseNpyHeader } from '../core/npy.ts';
import type { RunState } from '../core/train/store.ts';
import {
  type ArtifactStore,
  checkLayerName,
  checkpointName,
  checkRunKey,
  isRunKey,
  type PieceWriter,
  type RunArtifacts,
  type RunListing,
} from './artifact-store.ts';

async function writeAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * A file written in pieces: bytes go to a temporary file beside `file`, which becomes `file` (an
 * atomic rename) only on commit(); abort() removes it. Nothing partial is ever under the final name.
 */
export async function openAtomicWrite(file: string): Promise<PieceWriter> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx');
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await handle.close();
    }
  };
  return {
    async write(bytes) {
      let offset = 0;
      while (offset < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
        offset += bytesWritten;
      }
    },
    async commit() {
      await handle.sync();
      await close();
      const existed = await stat(file).then(
        () => true,
        () => false,
      );
      await rename(tmp, file);
      return existed;
    },
    async abort() {
      await close().catch(() => undefined);
      await rm(tmp, { force: true });
    },
  };
}

/** Artifact key of one network of an experiment on uploaded activations (a run of its own). */
export function uploadRunKey(experimentId: string, network: 'reference' | 'specimen'): string {
  return createHash('sha256').update(`upload/${experimentId}/${network}`).digest('hex');
}

/** The .npy header at the start of an open file (read in growing pieces up to the header cap). */
async function readNpyHeader(handle: FileHandle, label: string): Promise<NpyHeader> {
  for (let size = 512; ; size *= 4) {
    const buf = new Uint8Array(size);
    const { bytesRead } = await handle.read(buf, 0, size, 0);
    const header = parseNpyHeader(buf.subarray(0, bytesRead));
    if (header) return header;
    if (bytesRead < size)
      throw new NpyError('NPY_TRUNCATED', `npy: ${label}: the file ends inside the header`);
  }
}

export class FsRunArtifactStore implements RunArtifacts {
  /** Directory holding this run's artifacts. */
  readonly dir: string;

  constructor(
    root: string,
    readonly key: string,
  ) {
    this.dir = join(root, 'runs', checkRunKey(key));
  }

  private checkpointDir(checkpoint: number): string {
    return join(this.dir, checkpointName(checkpoint));
  }

  /** Path of a representation file (the API streams it as .npy). */
  layerFile(checkpoint: number, layer: string): string {
    return join(this.checkpointDir(checkpoint), `${checkLayerName(layer)}.npy`);
  }

  async openRepresentation(checkpoint: number, layer: string) {
    const file = this.layerFile(checkpoint, layer);
    const info = await stat(file).catch(() => null);
    return info ? { stream: createReadStream(file), bytes: info.size } : null;
  }

  writeRepresentation(checkpoint: number, layer: string): Promise<PieceWriter> {
    return openAtomicWrite(this.layerFile(checkpoint, layer));
  }

  /** [rows, cols] of a stored representation from its .npy header; null when it is not stored. */
  async representationShape(checkpoint: number, layer: string): Promise<number[] | null> {
    let handle: FileHandle;
    try {
      handle = await open(this.layerFile(checkpoint, layer), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return (await readNpyHeader(handle, `${layer} at checkpoint ${checkpoint}`)).shape;
    } finally {
      await handle.close();
    }
  }

  async saveWeights(checkpoint: number, bytes: Uint8Array): Promise<void> {
    await writeAtomic(join(this.checkpointDir(checkpoint), 'weights.rdw'), bytes);
  }

  async loadWeights(checkpoint: number): Promise<Uint8Array> {
    return readFile(join(this.checkpointDir(checkpoint), 'weights.rdw'));
  }

  async saveOptimizerState(checkpoint: number, bytes: Uint8Array): Promise<void> {
    await writeAtomic(join(this.checkpointDir(checkpoint), 'optimizer.rdw'), bytes);
  }

  async loadOptimizerState(checkpoint: number): Promise<Uint8Array> {
    return readFile(join(this.checkpointDir(checkpoint), 'optimizer.rdw'));
  }

  async pruneOptimizerStates(keep: number): Promise<void> {
    const keepDir = this.checkpointDir(keep);
    let entries: string[];
    try {
      entries = await readdir(this.dir);
    } catch {
      return;
    }
    await Promise.all(
      entries
        .filter((e) => e.startsWith('ckpt-') && join(this.dir, e) !== keepDir)
        .map((e) => rm(join(this.dir, e, 'optimizer.rdw'), { force: true })),
    );
  }

  /** Stores the matrix in its own dtype (float32 or float64). */
  async saveRepresentation(checkpoint: number, layer: string, matrix: Matrix2D): Promise<void> {
    await writeAtomic(this.layerFile(checkpoint, layer), encodeNpy(matrix.data, [matrix.rows, matrix.cols]));
  }

  /**
   * Reads a representation straight into its typed array: the header first, then the data in one
   * read at its offset (no intermediate buffer, no copy; the tensor builder loads every specimen
   * representation this way, tens of MB each).
   */
  async loadRepresentation(checkpoint: number, layer: string): Promise<Matrix2D> {
    const label = `${layer} at checkpoint ${checkpoint}`;
    const handle = await open(this.layerFile(checkpoint, layer), 'r');
    try {
      const { dtype, shape, dataOffset, dataBytes } = await readNpyHeader(handle, label);
      if (shape.length !== 2) throw new Error(`${label}: expected a 2-D array, got [${shape}]`);
      const { size } = await handle.stat();
      if (size - dataOffset !== dataBytes) {
        throw new NpyError(
          size - dataOffset < dataBytes ? 'NPY_TRUNCATED' : 'NPY_TRAILING_BYTES',
          `npy: ${label}: shape [${shape.join(', ')}] needs ${dataBytes} data bytes but the file has ${size - dataOffset}`,
        );
      }
      const count = shape[0]! * shape[1]!;
      // not zeroed first: every byte is read into it below (or the load fails)
      const bytes = new Uint8Array(Buffer.allocUnsafeSlow(dataBytes).buffer, 0, dataBytes);
      const data =
        dtype === 'float32'
          ? new Float32Array(bytes.buffer, 0, count)
          : new Float64Array(bytes.buffer, 0, count);
      for (let done = 0; done < dataBytes; ) {
        const { bytesRead } = await handle.read(
          bytes,
          done,
          Math.min(dataBytes - done, 1 << 30),
          dataOffset + done,
        );
        if (bytesRead === 0) throw new NpyError('NPY_TRUNCATED', `npy: ${label}: the file ended early`);
        done += bytesRead;
      }
      return { data, rows: shape[0]!, cols: shape[1]! };
    } finally {
      await handle.close();
    }
  }

  async saveState(state: RunState): Promise<void> {
    await writeAtomic(join(this.dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  }

  async loadState(): Promise<RunState | null> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'state.json'), 'utf8')) as RunState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async hasCheckpoint(checkpoint: number): Promise<boolean> {
    const state = await this.loadState();
    return state?.checkpoints.some((c) => c.index === checkpoint) ?? false;
  }
}

/** The filesystem artifact store: <root>/runs/<runKey>/… (the default). */
export class FsArtifactStore implements ArtifactStore {
  constructor(readonly location: string) {}

  run(key: string): FsRunArtifactStore {
    return new FsRunArtifactStore(this.location, key);
  }

  async removeRun(key: string): Promise<void> {
    const dir = join(this.location, 'runs', checkRunKey(key));
    await rm(join(dir, 'state.json'), { force: true }); // first: never a half-removed "complete" run
    await rm(dir, { recursive: true, force: true });
  }

  async listRuns(): Promise<RunListing[]> {
    let names: string[];
    try {
      names = await readdir(join(this.location, 'runs'));
    } catch {
      return [];
    }
    const out: RunListing[] = [];
    for (const key of names) {
      if (!isRunKey(key)) continue;
      const info = await stat(join(this.location, 'runs', key)).catch(() => null);
      if (info?.isDirectory()) out.push({ key, modified: info.mtime });
    }
    return out;
  }

  close(): void {}
}
