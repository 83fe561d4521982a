// The tensor slices GET /v1/experiments/:id/tensor answers: the selection checked against the slice
// limits (core/slice.ts), its cells read (store/repository.ts), serialised (core/slice-encode.ts),
// and the slices of finished tensors kept in memory.
import type { Config } from '../config/index.ts';
import {
  type SliceCheckpoint,
  type SliceFormat,
  type SliceMeasure,
  type SliceQuery,
  sliceSelection,
} from '../core/slice.ts';
import { encodeSlice, type SliceReader } from '../core/slice-encode.ts';
import type { Cell, Db } from '../store/db.ts';
import { decodeCoefficients } from '../store/experiments.ts';
import { sliceCells } from '../store/repository.ts';
import { type ExperimentHead, readableRow } from './access.ts';
import { LruCache } from './lru.ts';
import type { ExperimentRow } from './views.ts';

/** The Cell column of each scalar measure. */
const COLUMN = {
  rho: 'rho',
  mean: 'mean',
  svcca: 'svcca',
  pwcca: 'pwcca',
  cka: 'cka',
  rho_null: 'rhoNull',
  rho_adjusted: 'rhoAdjusted',
} as const satisfies Record<Exclude<SliceMeasure, 'coefficients'>, string>;

export interface Slice {
  body: Buffer;
  headers: Record<string, string>;
}

export type SliceRequest = SliceQuery & { measure?: SliceMeasure; format?: SliceFormat };

/** Serialised slices of finished tensors (immutable), most recently used kept: 2,000 or 64 MiB. */
const sliceCache = new LruCache<Slice>(2_000, 64 * 1024 * 1024);

function checkpointsOf(row: ExperimentRow): SliceCheckpoint[] {
  const stored = row.specimenRun?.checkpoints ?? [];
  if (stored.length > 0) return stored.map((c) => ({ index: c.index, step: c.step, fraction: c.fraction }));
  return Array.from({ length: row.checkpointCount }, (_, i) => ({ index: i, step: -1, fraction: -1 }));
}

/** The encoder's view of the cells read: `measure`'s column, the decoded coefficient vectors. */
function readerOf(cells: Cell[], measure: SliceMeasure): SliceReader {
  const byKey = new Map(cells.map((c) => [`${c.refLayer}/${c.specLayer}/${c.checkpoint}`, c]));
  return {
    value: (ref, spec, checkpoint) => {
      const c = byKey.get(`${ref}/${spec}/${checkpoint}`);
      return measure === 'coefficients' || !c ? null : (c[COLUMN[measure]] ?? null);
    },
    coefficients: (ref, spec, checkpoint) => {
      const c = byKey.get(`${ref}/${spec}/${checkpoint}`);
      return c ? decodeCoefficients(c.coefficients) : new Float64Array(0);
    },
  };
}

/** One slice of the tensor, serialised, with its content headers. */
async function buildSlice(
  db: Db,
  limits: Config['limits'],
  row: ExperimentRow,
  q: SliceRequest,
): Promise<Slice> {
  const measure = q.measure ?? 'rho';
  const format = q.format ?? 'json';
  const sel = sliceSelection(q, row.layers, checkpointsOf(row), { measure, format }, limits);
  const cells = await sliceCells(db, row.id, {
    refLayers: sel.refSel,
    specLayers: sel.specSel,
    checkpoints: sel.picked.map((c) => c.index),
  });
  const slice = encodeSlice(sel, readerOf(cells, measure), measure, format);
  const headers: Record<string, string> = { 'content-type': slice.contentType };
  if (format === 'npy') {
    headers['content-disposition'] = `attachment; filename="${row.id}-${measure}.npy"`;
    headers['x-repdyn-shape'] = slice.shape.join(',');
    headers['x-repdyn-axes'] = slice.axes.join(',');
  }
  return { body: slice.body, headers };
}

/**
 * What identifies a slice's answer: the experiment, when it finished, and `url`, the request's URL
 * without its share token. The in-memory cache and the ETag both use it.
 */
export const sliceKey = (head: ExperimentHead, url: string): string =>
  `${head.id}|${head.finishedAt?.toISOString()}|${url}`;

/**
 * The slice `q` of a readable experiment. A finished tensor never changes, so its slices are
 * answered from the in-memory cache (by `sliceKey`) without loading the experiment.
 */
export async function tensorSlice(
  db: Db,
  limits: Config['limits'],
  head: ExperimentHead,
  cacheKey: string,
  q: SliceRequest,
): Promise<Slice> {
  const hit = head.status === 'succeeded' ? sliceCache.get(cacheKey) : undefined;
  if (hit) return hit;
  const slice = await buildSlice(db, limits, await readableRow(db, head), q);
  if (head.status === 'succeeded') sliceCache.set(cacheKey, slice, slice.body.byteLength);
  return slice;
}
