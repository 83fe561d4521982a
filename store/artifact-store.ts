// Where run artifacts live: a directory (the default, store/artifacts.ts) or an S3-compatible bucket
// (store/artifacts-s3.ts), chosen by configuration (ARTIFACT_URL). Both keep the same layout —
// runs/<runKey>/state.json and runs/<runKey>/ckpt-NNNN/{weights.rdw, optimizer.rdw, <layer>.npy} —
// and the same guarantees: a file (object) appears whole or not at all, and state.json, the commit
// point of a checkpoint, is written last.
import type { Readable } from 'node:stream';
import type { RunArtifactStore } from '../core/train/store.ts';

const RUN_KEY = /^[0-9a-f]{8,64}$/;
const LAYER_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** A run's key: 8 to 64 lowercase hex digits (the name of its folder or key prefix). */
export function isRunKey(key: string): boolean {
  return RUN_KEY.test(key);
}

export function checkRunKey(key: string): string {
  if (!isRunKey(key)) throw new Error(`artifact store: invalid run key '${key}'`);
  return key;
}

export function checkLayerName(layer: string): string {
  if (!LAYER_NAME.test(layer)) throw new Error(`artifact store: invalid layer name '${layer}'`);
  return layer;
}

/** `ckpt-0003`: the folder (key prefix) of a checkpoint. */
export function checkpointName(checkpoint: number): string {
  if (!Number.isInteger(checkpoint) || checkpoint < 0)
    throw new RangeError(`invalid checkpoint ${checkpoint}`);
  return `ckpt-${String(checkpoint).padStart(4, '0')}`;
}

/** Bytes written in pieces that appear under their final name only on commit(). */
export interface PieceWriter {
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the written bytes visible; true when it replaced an existing file. */
  commit(): Promise<boolean>;
  abort(): Promise<void>;
}

/** One run's artifacts: what training needs, plus what the API serves and uploads write. */
export interface RunArtifacts extends RunArtifactStore {
  readonly key: string;
  /** [rows, cols] of a stored representation from its .npy header; null when it is not stored. */
  representationShape(checkpoint: number, layer: string): Promise<number[] | null>;
  /** The stored .npy as a stream (downloads), or null when it is not stored. */
  openRepresentation(checkpoint: number, layer: string): Promise<{ stream: Readable; bytes: number } | null>;
  /** A representation written in pieces (an upload streamed through). */
  writeRepresentation(checkpoint: number, layer: string): Promise<PieceWriter>;
}

export interface RunListing {
  key: string;
  /** the newest modification of anything of the run */
  modified: Date;
}

export interface ArtifactStore {
  /** For messages: a directory or s3://bucket/prefix. */
  readonly location: string;
  run(key: string): RunArtifacts;
  /** Removes every artifact of a run (state.json first). */
  removeRun(key: string): Promise<void>;
  /** Every run that has artifacts, by valid run key only (the orphan sweep). */
  listRuns(): Promise<RunListing[]>;
  close(): void;
}
