// What the training loop needs from an artifact store (store/artifacts.ts implements it on the
// filesystem). Checkpoints are addressed by their index in the schedule.
import type { Matrix2D } from '../cca/matrix.ts';

export interface CheckpointRecord {
  index: number;
  step: number;
  /** step / total steps. */
  fraction: number;
  /** Loss and accuracy of the checkpoint's weights on one training batch (the batch of this step). */
  trainLoss: number;
  trainAccuracy: number;
  /** Mean cross-entropy and accuracy on the whole probe set. */
  probeLoss: number;
  probeAccuracy: number;
}

/** A recorded layer; stored in a run's JSON `layers` column (a type alias, not an interface, so it is
 * a JSON value to Prisma without a cast). */
export type RepresentationInfo = {
  name: string;
  kind: string;
  /** Columns of the stored matrix. */
  features: number;
  /** Rows of the stored matrix. */
  samples: number;
  /**
   * A conv layer's second representation for conv-vs-conv pairs: positions as samples on the common
   * grid (stored under positionsName(name)). Absent for dense layers, the input and uploads.
   */
  positions?: { samples: number; features: number };
};

/** The artifact name of a layer's positions-as-samples representation (see RepresentationInfo.positions). */
export function positionsName(layer: string): string {
  return `${layer}--positions`;
}

/** Progress of a run, written last at each checkpoint: it is the commit point for resuming. */
export interface RunState {
  version: 1;
  /** Checkpoints whose weights, optimizer state and representations are all saved, in order. */
  checkpoints: CheckpointRecord[];
  layers: RepresentationInfo[];
  totalSteps: number;
  backend: string;
  complete: boolean;
}

export interface RunArtifactStore {
  saveWeights(checkpoint: number, bytes: Uint8Array): Promise<void>;
  loadWeights(checkpoint: number): Promise<Uint8Array>;
  /** Optimizer slots for resuming; only the latest checkpoint's is needed. */
  saveOptimizerState(checkpoint: number, bytes: Uint8Array): Promise<void>;
  loadOptimizerState(checkpoint: number): Promise<Uint8Array>;
  /** Deletes the optimizer states of every checkpoint except `keep`. */
  pruneOptimizerStates(keep: number): Promise<void>;
  /** matrix: [samples, features] row-major, stored in its own dtype (float32 or float64). */
  saveRepresentation(checkpoint: number, layer: string, matrix: Matrix2D): Promise<void>;
  loadRepresentation(checkpoint: number, layer: string): Promise<Matrix2D>;
  saveState(state: RunState): Promise<void>;
  loadState(): Promise<RunState | null>;
  /** True when the state records the checkpoint as complete. */
  hasCheckpoint(checkpoint: number): Promise<boolean>;
}
