// Experiments on uploaded activations, in the store's terms: the experiment with its two runs, a
// representation committed only while the experiment still awaits its representations, the
// inventory of what is stored, and completion (every representation present with one sample count:
// the runs' state written, the layers' widths recorded, the experiment queued).
import type { Estimate } from '../core/estimate.ts';
import {
  isUploadSpec,
  type NormalisedUpload,
  normaliseUploadSpec,
  requiredRepresentations,
  type UploadNetwork,
} from '../core/spec/upload.ts';
import type { RunState } from '../core/train/store.ts';
import type { ArtifactStore, RunArtifacts } from './artifact-store.ts';
import { type Db, type Experiment, type Prisma, poolOf, type Run } from './db.ts';
import { DomainError, ExperimentNotFound } from './errors.ts';
import { AWAITING, advance } from './experiments.ts';

export class NotAnUploadExperiment extends DomainError {
  constructor() {
    super(
      'conflict',
      'NOT_AN_UPLOAD_EXPERIMENT',
      'this experiment trains its networks; activations are uploaded to experiments created with "source": "upload"',
    );
  }
}

export class NotAwaitingRepresentations extends DomainError {
  constructor(status: string | undefined, message?: string) {
    super(
      'conflict',
      'NOT_AWAITING_REPRESENTATIONS',
      message ??
        `the experiment is ${status ?? 'gone'}; representations are accepted only while it is awaiting_representations`,
      { status },
    );
  }
}

export interface UploadExperiment {
  row: Experiment;
  u: NormalisedUpload;
  referenceRun: Run;
  specimenRun: Run;
}

/** The team's upload experiment with its runs (ExperimentNotFound, NotAnUploadExperiment otherwise). */
export async function findOwnedUpload(db: Db, teamId: string, id: string): Promise<UploadExperiment> {
  const row = await db.experiment.findFirst({
    where: { id, teamId },
    include: { referenceRun: true, specimenRun: true },
  });
  if (!row) throw new ExperimentNotFound(id);
  if (!isUploadSpec(row.spec)) throw new NotAnUploadExperiment();
  const { referenceRun, specimenRun, ...experiment } = row;
  if (!referenceRun || !specimenRun) {
    throw new NotAwaitingRepresentations(row.status, 'the experiment has no runs');
  }
  return { row: experiment, u: normaliseUploadSpec(row.spec), referenceRun, specimenRun };
}

/** What an upload (PUT) needs of its experiment: status, normalised spec and the runs' keys. */
export interface UploadTarget {
  status: string;
  u: NormalisedUpload;
  runKeys: Record<UploadNetwork, string>;
}

/**
 * findOwnedUpload for the hot path of PUT …/activations: one indexed query (a named statement on the
 * pool, experiment joined with its two runs) instead of three ORM queries, each compiled on the
 * event loop, for a request that is often refused (a bad header, a slow body, the wrong state).
 */
export async function findUploadTarget(db: Db, teamId: string, id: string): Promise<UploadTarget> {
  const { rows } = await poolOf(db).query<{
    status: string;
    spec: unknown;
    referenceKey: string | null;
    specimenKey: string | null;
  }>({
    name: 'repdyn-upload-target',
    text: `SELECT e.status::text AS status, e.spec, r.key AS "referenceKey", s.key AS "specimenKey"
           FROM "Experiment" e
           LEFT JOIN "Run" r ON r.id = e."referenceRunId"
           LEFT JOIN "Run" s ON s.id = e."specimenRunId"
           WHERE e.id = $1 AND e."teamId" = $2`,
    values: [id, teamId],
  });
  const row = rows[0];
  if (!row) throw new ExperimentNotFound(id);
  if (!isUploadSpec(row.spec)) throw new NotAnUploadExperiment();
  if (!row.referenceKey || !row.specimenKey) {
    throw new NotAwaitingRepresentations(row.status, 'the experiment has no runs');
  }
  return {
    status: row.status,
    u: normaliseUploadSpec(row.spec),
    runKeys: { reference: row.referenceKey, specimen: row.specimenKey },
  };
}

/** The artifact stores of an upload experiment's runs, by network (NotAwaitingRepresentations without runs). */
export async function uploadStores(
  db: Db,
  artifacts: ArtifactStore,
  row: Pick<Experiment, 'spec' | 'status' | 'referenceRunId' | 'specimenRunId'>,
): Promise<{ u: NormalisedUpload; stores: Record<UploadNetwork, RunArtifacts> }> {
  if (!isUploadSpec(row.spec)) throw new NotAnUploadExperiment();
  const runs = await db.run.findMany({
    where: { id: { in: [row.referenceRunId, row.specimenRunId].filter((x): x is string => !!x) } },
  });
  const keyOf = (id: string | null) => runs.find((r) => r.id === id)?.key;
  const referenceKey = keyOf(row.referenceRunId);
  const specimenKey = keyOf(row.specimenRunId);
  if (!referenceKey || !specimenKey) {
    throw new NotAwaitingRepresentations(row.status, 'the experiment has no runs');
  }
  return {
    u: normaliseUploadSpec(row.spec),
    stores: { reference: artifacts.run(referenceKey), specimen: artifacts.run(specimenKey) },
  };
}

/** The status under a row lock, so uploads and …/complete of one experiment serialise. */
async function lockedStatus(tx: Prisma.TransactionClient, id: string): Promise<string | undefined> {
  const rows = await tx.$queryRaw<Array<{ status: string }>>`
    SELECT status::text AS status FROM "Experiment" WHERE id = ${id}::uuid FOR UPDATE`;
  return rows[0]?.status;
}

/** Runs `commit` under the experiment's row lock if it still awaits its representations. */
export async function commitWhileAwaiting<T>(db: Db, id: string, commit: () => Promise<T>): Promise<T> {
  return db.$transaction(async (tx) => {
    const status = await lockedStatus(tx, id);
    if (status !== AWAITING) throw new NotAwaitingRepresentations(status);
    return commit();
  });
}

export interface StoredRepresentation {
  network: UploadNetwork;
  checkpoint: number;
  step: number;
  layer: string;
  /** stored [samples, features]; null: not uploaded yet */
  shape: number[] | null;
}

/** Every declared representation of an upload experiment with its stored shape (null: not uploaded). */
export async function inventory(
  u: NormalisedUpload,
  stores: Record<UploadNetwork, RunArtifacts>,
): Promise<StoredRepresentation[]> {
  const out: StoredRepresentation[] = [];
  const lastStep = u.checkpoints[u.checkpoints.length - 1].step;
  for (const r of requiredRepresentations(u)) {
    out.push({
      network: r.network,
      checkpoint: r.checkpoint,
      step: r.network === 'reference' ? lastStep : u.checkpoints[r.checkpoint].step,
      layer: r.layer,
      shape: await stores[r.network].representationShape(r.checkpoint, r.layer),
    });
  }
  return out;
}

type Shape = { samples: number; features: number };

/**
 * Completes an upload experiment: under its row lock, every declared representation must be stored
 * (422 REPRESENTATIONS_MISSING) with one sample count (422 SAMPLE_COUNT_MISMATCH); `estimate` sizes
 * the tensor from the final layers' shapes (and may refuse it); then the runs' state is written, the
 * layers' widths recorded, the runs marked done and the experiment queued (the caller enqueues it).
 */
export async function completeUpload(
  db: Db,
  artifacts: ArtifactStore,
  upload: UploadExperiment,
  estimate: (reference: Shape[], specimen: Shape[], checkpoints: number) => Estimate,
): Promise<void> {
  const { row, u, referenceRun, specimenRun } = upload;
  const stores = { reference: artifacts.run(referenceRun.key), specimen: artifacts.run(specimenRun.key) };
  await db.$transaction(
    async (tx) => {
      const status = await lockedStatus(tx, row.id);
      if (status !== AWAITING) throw new NotAwaitingRepresentations(status);
      const shapes = completeShapes(await inventory(u, stores));
      const refStoreCheckpoint = u.same ? u.checkpoints.length - 1 : 0;
      const refNetwork: UploadNetwork = u.same ? 'specimen' : 'reference';
      const shapeOf = (network: UploadNetwork, checkpoint: number, layer: string) =>
        shapes.get(`${network}/${checkpoint}/${layer}`) as number[];
      const refShapes = u.layers.reference.map((l) => shapeOf(refNetwork, refStoreCheckpoint, l));
      const lastSpec = u.checkpoints.length - 1;
      const specShapes = u.layers.specimen.map((l) => shapeOf('specimen', lastSpec, l));
      const toShape = (s: number[]) => ({ samples: s[0], features: s[1] });
      const est = estimate(refShapes.map(toShape), specShapes.map(toShape), u.checkpoints.length);
      const lastStep = u.checkpoints[lastSpec].step;
      await stores.specimen.saveState(runState(u, u.layers.specimen, specShapes, u.checkpoints));
      if (!u.same) {
        const final = [{ index: 0, step: lastStep, fraction: 1 }];
        await stores.reference.saveState(runState(u, u.layers.reference, refShapes, final));
      }
      for (const [network, names, list] of [
        ['reference', u.layers.reference, refShapes],
        ['specimen', u.layers.specimen, specShapes],
      ] as const) {
        for (const [index, name] of names.entries()) {
          await tx.layer.update({
            where: { experimentId_network_index: { experimentId: row.id, network, index } },
            data: { name, features: list[index][1], samples: list[index][0] },
          });
        }
      }
      await tx.run.updateMany({
        where: { id: { in: [referenceRun.id, specimenRun.id] } },
        data: { status: 'done', backend: 'upload', finishedAt: new Date() },
      });
      const moved = await advance(tx, row.id, 'queued', {
        queuedAt: new Date(),
        message: 'waiting for a worker',
        estimate: { ...est, samples: u.samples },
      });
      if (!moved) throw new NotAwaitingRepresentations(status);
    },
    { timeout: 120_000 },
  );
}

/** The stored shapes by "network/checkpoint/layer" when every representation is there with one sample count. */
function completeShapes(representations: StoredRepresentation[]): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const r of representations)
    if (r.shape) shapes.set(`${r.network}/${r.checkpoint}/${r.layer}`, r.shape);
  const missing = representations.filter((r) => !r.shape).map(({ shape: _, ...r }) => r);
  if (missing.length > 0) {
    const m = missing[0];
    throw new DomainError(
      'unprocessable',
      'REPRESENTATIONS_MISSING',
      `${missing.length} of ${representations.length} representations are not uploaded yet, e.g. ${m.network}/${m.network === 'reference' ? 'final' : m.checkpoint}/${m.layer}`,
      { count: missing.length, missing: missing.slice(0, 200) },
    );
  }
  const counts = new Map<number, string[]>();
  for (const [key, shape] of shapes) counts.set(shape[0], [...(counts.get(shape[0]) ?? []), key]);
  if (counts.size > 1) {
    throw new DomainError(
      'unprocessable',
      'SAMPLE_COUNT_MISMATCH',
      `the representations have different sample counts (${[...counts.keys()].join(', ')}); conv layers in 'positions' mode need every layer to be convolutional — use convMode 'mean' or 'flatten'`,
      { samples: Object.fromEntries([...counts].map(([k, v]) => [k, v.slice(0, 20)])) },
    );
  }
  return shapes;
}

/** The run state of an uploaded network: its layers' shapes, its checkpoints without training metrics. */
function runState(
  u: NormalisedUpload,
  layers: string[],
  shapesOf: number[][],
  checkpoints: Array<{ index: number; step: number; fraction: number }>,
): RunState {
  return {
    version: 1,
    checkpoints: checkpoints.map((c) => ({
      ...c,
      trainLoss: Number.NaN,
      trainAccuracy: Number.NaN,
      probeLoss: Number.NaN,
      probeAccuracy: Number.NaN,
    })),
    layers: layers.map((name, i) => ({
      name,
      kind: 'uploaded',
      features: shapesOf[i][1],
      samples: shapesOf[i][0],
    })),
    totalSteps: u.checkpoints[u.checkpoints.length - 1].step,
    backend: 'upload',
    complete: true,
  };
}
