// Results of an experiment: any sub-block of the 4-D tensor as JSON, .npy or CSV; the activation
// matrices the cells were computed from (share links: shares.ts).
import { createHash } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type SliceAxis, type Slice as SliceJson, SliceRef } from '../../../../core/contracts/slice.ts';
import { encodeNpy } from '../../../../core/npy.ts';
import {
  planSlice,
  SLICE_MEASURES,
  type SliceCheckpoint,
  SliceError,
  type SliceMeasure,
  selectCheckpoints,
  selectLayers,
} from '../../../../core/slice.ts';
import { decodeCoefficients } from '../../../../store/experiments.ts';
import { findRun, sliceCells } from '../../../../store/repository.ts';
import { type ExperimentHead, experimentHead, readableExperiment, readableRow } from '../../../access.ts';
import type { RouteDeps } from '../../../app.ts';
import { LruCache } from '../../../lru.ts';
import { redactQuery } from '../../../redact.ts';
import { errorResponses, HttpError } from '../../../schemas/error.ts';
import { IdParams, ShareQuery } from '../../../schemas/params.ts';
import type { ExperimentRow } from '../../../views.ts';

const tags = ['results'];
const MEASURES = SLICE_MEASURES;
type Measure = SliceMeasure;
/** The Cell column of each scalar measure. */
const COLUMN = {
  rho: 'rho',
  mean: 'mean',
  svcca: 'svcca',
  pwcca: 'pwcca',
  cka: 'cka',
  rho_null: 'rhoNull',
  rho_adjusted: 'rhoAdjusted',
} as const satisfies Record<Exclude<Measure, 'coefficients'>, string>;

const SliceQuerySchema = Type.Object({
  refLayer: Type.Optional(Type.String()),
  specLayer: Type.Optional(Type.String()),
  checkpoint: Type.Optional(Type.String({ pattern: '^\\d+(,\\d+)*$' })),
  step: Type.Optional(Type.Integer({ minimum: 0 })),
  fraction: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  measure: Type.Optional(
    Type.Union(
      MEASURES.map((m) => Type.Literal(m)),
      { default: 'rho' },
    ),
  ),
  format: Type.Optional(
    Type.Union([Type.Literal('json'), Type.Literal('npy'), Type.Literal('csv')], { default: 'json' }),
  ),
  ...ShareQuery,
});
type SliceQuery = Static<typeof SliceQuerySchema>;

interface Slice {
  body: Buffer;
  headers: Record<string, string>;
}

/** Serialised slices of finished tensors (immutable), most recently used kept: 2,000 or 64 MiB. */
const sliceCache = new LruCache<Slice>(2_000, 64 * 1024 * 1024);

function checkpointsOf(row: ExperimentRow): SliceCheckpoint[] {
  const stored = row.specimenRun?.checkpoints ?? [];
  if (stored.length > 0) return stored.map((c) => ({ index: c.index, step: c.step, fraction: c.fraction }));
  return Array.from({ length: row.checkpointCount }, (_, i) => ({ index: i, step: -1, fraction: -1 }));
}

/** Finished tensors never change: strong ETag + long caching; If-None-Match answers 304. */
function cacheable(request: FastifyRequest, reply: FastifyReply, row: ExperimentHead): boolean {
  if (row.status !== 'succeeded') {
    reply.header('cache-control', 'no-store');
    return false;
  }
  const etag = `"${createHash('sha1')
    .update(`${row.id}|${row.finishedAt?.toISOString()}|${redactQuery(request.url, 'drop')}`)
    .digest('hex')}"`;
  reply.header('etag', etag);
  reply.header('cache-control', 'private, max-age=31536000, immutable');
  if (request.headers['if-none-match'] === etag) {
    reply.status(304).send();
    return true;
  }
  return false;
}

export async function resultRoutes(scope: FastifyInstance, deps: RouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { db, config } = deps;

  app.get(
    '/v1/experiments/:id/tensor',
    {
      schema: {
        tags,
        summary: 'Any sub-block of the tensor [refLayer, specLayer, checkpoint(, coefficient)]',
        description:
          'Layers by index or name (one, a comma list, or omitted = all). One checkpoint (checkpoint=K, step=S or ' +
          'fraction=F, nearest) drops the checkpoint axis; a list or none keeps it. measure=coefficients adds a ' +
          'coefficient axis, NaN-padded (JSON: null) with `counts` giving each vector length. measure=rho_null: each ' +
          "cell's permutation null (rho with the specimen's rows shuffled); measure=rho_adjusted: (rho - null) / " +
          '(1 - null), comparable across widths (null/NaN for cells computed before the null existed, or a null of 1). npy: float32 with ' +
          'exactly the announced shape, NaN for cells not computed yet. csv: long form, one row per value.',
        params: IdParams,
        querystring: SliceQuerySchema,
        response: {
          200: {
            description: 'format=json: the slice (Slice); format=npy: float32 .npy; format=csv: long form',
            content: {
              'application/json': { schema: SliceRef },
              'application/octet-stream': {
                schema: Type.String({ format: 'binary', description: '.npy (float32), C order' }),
              },
              'text/csv': {
                schema: Type.String({
                  description:
                    'refLayer,specLayer,checkpoint,step,fraction,measure(,coefficient),value — one row per value',
                }),
              },
            },
          },
          304: Type.Null(),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      // Cheap access check first; a finished tensor never changes, so its slices are answered from
      // the ETag (304) or the in-memory cache without loading the experiment.
      const head = await experimentHead(db, request, request.params.id);
      const cacheKey = `${head.id}|${head.finishedAt?.toISOString()}|${redactQuery(request.url, 'drop')}`;
      if (cacheable(request, reply, head)) return reply;
      const hit = head.status === 'succeeded' ? sliceCache.get(cacheKey) : undefined;
      const slice = hit ?? (await buildSlice(await readableRow(db, head), request.query));
      if (!hit && head.status === 'succeeded') sliceCache.set(cacheKey, slice, slice.body.byteLength);
      for (const [name, value] of Object.entries(slice.headers)) reply.header(name, value);
      return reply.send(slice.body);
    },
  );

  /**
   * The layers and checkpoints a slice reads, checked against the slice limits before any cell is
   * loaded: 400 for an unknown or repeated index, 422 LIMIT_SLICE_CELLS / LIMIT_SLICE_BYTES.
   */
  function sliceSelection(
    row: ExperimentRow,
    q: SliceQuery,
    refNames: string[],
    specNames: string[],
    measure: Measure,
    format: 'json' | 'npy' | 'csv',
  ) {
    try {
      const refSel = selectLayers(q.refLayer, refNames, 'refLayer');
      const specSel = selectLayers(q.specLayer, specNames, 'specLayer');
      const { picked, single } = selectCheckpoints(q, checkpointsOf(row));
      // coefficient vectors are as long as the narrower layer of the pair (unknown widths: the limit)
      let coefficientWidth = 1;
      if (measure === 'coefficients') {
        const width = (network: string, index: number) =>
          row.layers.find((l) => l.network === network && l.index === index)?.features ||
          config.limits.representationFeatures;
        const refMax = Math.max(0, ...refSel.map((i) => width('reference', i)));
        const specMax = Math.max(0, ...specSel.map((j) => width('specimen', j)));
        coefficientWidth = Math.min(refMax, specMax);
      }
      const labelChars =
        Math.max(0, ...refSel.map((i) => refNames[i].length)) +
        Math.max(0, ...specSel.map((j) => specNames[j].length));
      planSlice(
        { refLayers: refSel.length, specLayers: specSel.length, checkpoints: picked.length },
        { format, coefficientWidth, labelChars },
        config.limits,
      );
      return { refSel, specSel, picked, single };
    } catch (err) {
      if (err instanceof SliceError) throw new HttpError(err.status, err.code, err.message, err.details);
      throw err;
    }
  }

  /** One slice of the tensor, serialised, with its content headers. */
  async function buildSlice(row: ExperimentRow, q: SliceQuery): Promise<Slice> {
    const measure = (q.measure ?? 'rho') as Measure;
    const format = q.format ?? 'json';
    const refNames = row.layers.filter((l) => l.network === 'reference').map((l) => l.name);
    const specNames = row.layers.filter((l) => l.network === 'specimen').map((l) => l.name);
    const { refSel, specSel, picked, single } = sliceSelection(row, q, refNames, specNames, measure, format);
    const cells = await sliceCells(db, row.id, {
      refLayers: refSel,
      specLayers: specSel,
      checkpoints: picked.map((c) => c.index),
    });
    const byKey = new Map(cells.map((c) => [`${c.refLayer}/${c.specLayer}/${c.checkpoint}`, c]));
    const cellAt = (i: number, j: number, t: number) =>
      byKey.get(`${refSel[i]}/${specSel[j]}/${picked[t].index}`);
    const coefs = measure === 'coefficients';
    const decoded = new Map<string, Float64Array>();
    const coefOf = (i: number, j: number, t: number) => {
      const key = `${i}/${j}/${t}`;
      let v = decoded.get(key);
      if (!v) {
        const c = cellAt(i, j, t);
        v = c ? decodeCoefficients(c.coefficients) : new Float64Array(0);
        decoded.set(key, v);
      }
      return v;
    };
    const [nR, nS, nT] = [refSel.length, specSel.length, picked.length];
    let width = 0;
    if (coefs)
      for (let i = 0; i < nR; i++)
        for (let j = 0; j < nS; j++)
          for (let t = 0; t < nT; t++) width = Math.max(width, coefOf(i, j, t).length);
    const shape = [nR, nS, ...(single ? [] : [nT]), ...(coefs ? [width] : [])];
    const axes: SliceAxis[] = [
      'refLayer',
      'specLayer',
      ...(single ? [] : (['checkpoint'] as const)),
      ...(coefs ? (['coefficient'] as const) : []),
    ];
    const scalar = (i: number, j: number, t: number): number | null => {
      const c = cellAt(i, j, t);
      const v = c ? (c[COLUMN[measure as Exclude<Measure, 'coefficients'>]] as number | null) : null;
      return v ?? null;
    };
    const labels = {
      refLayer: refSel.map((i) => refNames[i]),
      specLayer: specSel.map((j) => specNames[j]),
      checkpoint: single ? picked[0] : picked,
    };
    // values in C order over (i, j, [t], [k])
    const flat: (number | null)[] = [];
    for (let i = 0; i < nR; i++)
      for (let j = 0; j < nS; j++)
        for (let t = 0; t < nT; t++) {
          if (!coefs) flat.push(scalar(i, j, t));
          else {
            const v = coefOf(i, j, t);
            for (let k = 0; k < width; k++) flat.push(k < v.length ? v[k] : null);
          }
        }
    if (format === 'npy') {
      const data = Float32Array.from(flat, (v) => (v === null ? Number.NaN : v));
      return {
        body: Buffer.from(encodeNpy(data, shape)),
        headers: {
          'content-type': 'application/octet-stream',
          'content-disposition': `attachment; filename="${row.id}-${measure}.npy"`,
          'x-repdyn-shape': shape.join(','),
          'x-repdyn-axes': axes.join(','),
        },
      };
    }
    if (format === 'csv') {
      const lines = [
        `refLayer,specLayer,checkpoint,step,fraction,measure${coefs ? ',coefficient' : ''},value`,
      ];
      let n = 0;
      for (let i = 0; i < nR; i++)
        for (let j = 0; j < nS; j++)
          for (let t = 0; t < nT; t++) {
            const c = picked[t];
            const prefix = `${labels.refLayer[i]},${labels.specLayer[j]},${c.index},${c.step},${c.fraction},${measure}`;
            if (!coefs) {
              const v = flat[n++];
              lines.push(`${prefix},${v === null ? '' : v}`);
            } else {
              const len = coefOf(i, j, t).length;
              for (let k = 0; k < width; k++) {
                const v = flat[n++];
                if (k < len) lines.push(`${prefix},${k},${v}`);
              }
            }
          }
      return {
        body: Buffer.from(`${lines.join('\n')}\n`),
        headers: { 'content-type': 'text/csv; charset=utf-8' },
      };
    }
    const nest = (offset: number, dims: number[]): unknown =>
      dims.length === 0
        ? flat[offset]
        : Array.from({ length: dims[0] }, (_, a) =>
            nest(offset + a * dims.slice(1).reduce((x, y) => x * y, 1), dims.slice(1)),
          );
    const counts = coefs
      ? refSel.map((_, i) =>
          specSel.map((_, j) => {
            const per = picked.map((_, t) => coefOf(i, j, t).length);
            return single ? per[0] : per;
          }),
        )
      : undefined;
    const json: SliceJson = {
      shape,
      axes,
      measure,
      labels,
      values: nest(0, shape) as SliceJson['values'],
      ...(counts ? { counts } : {}),
    };
    return {
      body: Buffer.from(JSON.stringify(json)),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    };
  }

  app.get(
    '/v1/experiments/:id/activations',
    {
      schema: {
        tags,
        summary:
          'The representation a cell was computed from, as .npy [samples, features] (float32; float64 for a float64 upload)',
        params: IdParams,
        querystring: Type.Object({
          network: Type.Union([Type.Literal('reference'), Type.Literal('specimen')]),
          checkpoint: Type.Integer({ minimum: 0 }),
          layer: Type.String({ minLength: 1 }),
          ...ShareQuery,
        }),
        response: {
          200: {
            description: 'the representation as .npy [samples, features]',
            content: {
              'application/octet-stream': { schema: Type.String({ format: 'binary', description: '.npy' }) },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const row = await readableExperiment(db, request, request.params.id);
      const { network, checkpoint, layer } = request.query;
      const runId = network === 'reference' ? row.referenceRunId : row.specimenRunId;
      const run = await findRun(db, runId);
      if (!run)
        throw new HttpError(
          409,
          'NOT_CAPTURED_YET',
          'the representations of this experiment are not captured yet',
        );
      if (!row.layers.some((l) => l.network === network && l.name === layer)) {
        throw new HttpError(400, 'UNKNOWN_LAYER', `layer: no ${network} layer '${layer}'`, {
          field: 'layer',
        });
      }
      const stored = await deps.artifacts.run(run.key).openRepresentation(checkpoint, layer);
      if (!stored) {
        throw new HttpError(
          404,
          'REPRESENTATION_NOT_FOUND',
          `no ${network} representation of ${layer} at checkpoint ${checkpoint}`,
        );
      }
      reply.header('content-type', 'application/octet-stream');
      reply.header('content-length', stored.bytes);
      reply.header('content-disposition', `attachment; filename="${network}-${checkpoint}-${layer}.npy"`);
      return reply.send(stored.stream);
    },
  );
}
