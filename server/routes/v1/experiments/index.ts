// /v1/experiments: submit, list, read, cancel, delete, progress events, a tensor slice.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance } from 'fastify';
import { convReductionWarnings } from '../../../../core/analysis/conv-reduction.ts';
import { declaredWarnings } from '../../../../core/analysis/index.ts';
import { type ExperimentSpec, ExperimentSpecSchema, specHash } from '../../../../core/spec/experiment.ts';
import { isUploadSpec, UploadExperimentSpecSchema } from '../../../../core/spec/upload.ts';
import { hashSecret } from '../../../../store/auth.ts';
import { Prisma } from '../../../../store/db.ts';
import {
  ACTIVE,
  AWAITING,
  advance,
  createWithinTeamLimit,
  isTerminal,
  TooManyActiveExperiments,
} from '../../../../store/experiments.ts';
import { enqueueExperiment } from '../../../../store/queue.ts';
import { pingRedis, withTimeout } from '../../../../store/redis.ts';
import { collectRun } from '../../../../store/runs.ts';
import { experimentHead, readableExperiment } from '../../../access.ts';
import type { RouteDeps } from '../../../app.ts';
import { principalOf } from '../../../plugins/auth.ts';
import { errorResponses, HttpError } from '../../../schemas/error.ts';
import {
  DryRunSchema,
  ExperimentListSchema,
  ExperimentStatusSchema,
  SubmittedSchema,
} from '../../../schemas/experiment.ts';
import { planTrained, planUpload } from '../../../submission.ts';
import { describeTypeBoxError } from '../../../validation.ts';
import { experimentInclude, experimentView, links } from '../../../views.ts';
import { EventStreams } from './events.ts';
import { resultRoutes } from './results.ts';
import { shareRoutes } from './shares.ts';
import { createUploadExperiment, uploadRoutes } from './uploads.ts';

const IdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'experiment id' }) });
const tags = ['experiments'];

/** The schema without its $id (the body union holds it inline). */
function inline<T extends object>(schema: T): T {
  const { $id: _id, ...rest } = schema as T & { $id?: string };
  return rest as T;
}

const uploadSpecCheck = TypeCompiler.Compile(UploadExperimentSpecSchema);

export async function experimentRoutes(scope: FastifyInstance, deps: RouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { db, config } = deps;
  // live progress streams, ended when the API shuts down (see streamEvents)
  const streams = new EventStreams(db, {
    perKey: config.limits.eventStreamsPerKey,
    total: config.limits.eventStreams,
    maxSeconds: config.limits.eventStreamSeconds,
    heartbeatMs: config.eventHeartbeatMs,
  });
  scope.addHook('preClose', async () => {
    streams.closeAll();
  });

  /** The experiment if it belongs to the caller's team; 404 otherwise (other teams' ids are not revealed). */
  async function findOwned(teamId: string, id: string) {
    const row = await db.experiment.findFirst({ where: { id, teamId }, include: experimentInclude });
    if (!row) throw new HttpError(404, 'EXPERIMENT_NOT_FOUND', `no experiment ${id}`);
    return row;
  }

  /** The experiment an Idempotency-Key already created (409 when it was for another body). */
  async function idempotent(teamId: string, key: string, hash: string) {
    const existing = await db.experiment.findUnique({
      where: { teamId_idempotencyKey: { teamId, idempotencyKey: key } },
    });
    if (existing && existing.specHash !== hash) {
      throw new HttpError(
        409,
        'IDEMPOTENCY_KEY_REUSED',
        'this Idempotency-Key was used with a different body',
      );
    }
    return existing;
  }

  app.post(
    '/v1/experiments',
    {
      schema: {
        tags,
        summary: 'Submit an experiment',
        description:
          'Validates the spec, estimates memory and time, creates the experiment and queues it (202). ' +
          'With "source": "upload" (UploadExperimentSpec) the experiment is created awaiting its ' +
          'representations (201): PUT each one to …/activations/:network/:checkpoint/:layer, then POST …/complete. ' +
          'Idempotency-Key: the same key with the same body returns the same experiment; with another body, 409.',
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        }),
        querystring: Type.Object({
          dryRun: Type.Optional(
            Type.Boolean({
              description:
                'true: validate and estimate only (200 DryRun): the same checks and errors as a real ' +
                'submission, nothing stored or queued',
            }),
          ),
        }),
        body: Type.Union([inline(ExperimentSpecSchema), UploadExperimentSpecSchema]),
        response: { 200: DryRunSchema, 201: SubmittedSchema, 202: SubmittedSchema, ...errorResponses },
      },
      // An upload spec is checked against its own schema first, so a mistake in it is reported
      // against that schema rather than the trained spec's.
      preValidation: async (request) => {
        if (!isUploadSpec(request.body)) return;
        const first = uploadSpecCheck.Errors(request.body).First();
        if (!first) return;
        const { field, message } = describeTypeBoxError(first, 'body');
        throw new HttpError(400, 'INVALID_REQUEST', `${field}: ${message}`, {
          field,
          errors: [{ instancePath: first.path, message }],
        });
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body;
      const plan = isUploadSpec(body)
        ? planUpload(body, config)
        : planTrained(body as ExperimentSpec, config);
      if (request.query.dryRun) {
        return reply.status(200).send({
          dryRun: true as const,
          spec: plan.normalised,
          estimate: plan.estimate,
          warnings: plan.warnings,
        });
      }
      if (plan.kind === 'upload') {
        const hash = specHash(plan.spec);
        return createUploadExperiment(
          deps,
          request,
          reply,
          plan,
          (teamId, key) => idempotent(teamId, key, hash),
          hash,
        );
      }
      const { spec, estimate, warnings } = plan;
      const hash = specHash(spec);
      const idempotencyKey = request.headers['idempotency-key'];
      if (idempotencyKey) {
        const existing = await idempotent(principal.teamId, idempotencyKey, hash);
        if (existing) {
          const layers = await db.layer.findMany({ where: { experimentId: existing.id } });
          return reply.status(202).send({
            id: existing.id,
            status: existing.status,
            estimate: existing.estimate,
            warnings: [...declaredWarnings(layers), ...convReductionWarnings(layers)],
            links: links(existing.id),
          });
        }
      }
      try {
        await pingRedis(deps.redis);
      } catch {
        throw new HttpError(
          503,
          'QUEUE_UNAVAILABLE',
          'the work queue (Redis) is unreachable; try again shortly',
        );
      }
      let created: { id: string; status: string };
      try {
        created = await createWithinTeamLimit(db, principal.teamId, config.limits.activeExperiments, {
          name: spec.name,
          spec: spec as Prisma.InputJsonValue,
          specHash: hash,
          idempotencyKey: idempotencyKey ?? null,
          estimate: estimate as unknown as Prisma.InputJsonValue,
          checkpointCount: estimate.checkpoints,
          message: 'waiting for a worker',
          layers: { create: plan.layers },
        });
      } catch (err) {
        // two identical idempotent requests raced: the other one created it
        if (idempotencyKey && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
          const existing = await db.experiment.findUniqueOrThrow({
            where: { teamId_idempotencyKey: { teamId: principal.teamId, idempotencyKey } },
          });
          if (existing.specHash !== hash) {
            throw new HttpError(
              409,
              'IDEMPOTENCY_KEY_REUSED',
              'this Idempotency-Key was used with a different body',
            );
          }
          created = existing;
        } else if (err instanceof TooManyActiveExperiments) {
          throw new HttpError(
            429,
            'LIMIT_ACTIVE_EXPERIMENTS',
            `the team has ${err.active} unfinished experiments (limit ${err.limit}); wait for one to finish or cancel one`,
            { field: 'team', limit: err.limit, active: err.active },
          );
        } else {
          throw err;
        }
      }
      // Submission policy: Redis unreachable before anything is stored → 503 QUEUE_UNAVAILABLE and
      // nothing is kept; Redis lost between that check and the enqueue → the row is kept (202) and
      // the workers' reconciler enqueues it from Postgres. Never a row that nobody will run.
      try {
        await withTimeout(enqueueExperiment(deps.queue, created.id), 2_000, 'enqueue');
      } catch (err) {
        // The row is the truth: the workers' reconciler enqueues it when Redis answers again.
        request.log.warn({ err, experimentId: created.id }, 'enqueue failed; the reconciler will retry');
      }
      return reply.status(202).send({
        id: created.id,
        status: created.status as never,
        estimate,
        warnings,
        links: links(created.id),
      });
    },
  );

  app.get(
    '/v1/experiments',
    {
      schema: {
        tags,
        summary: "List the team's experiments, newest first",
        querystring: Type.Object({
          status: Type.Optional(ExperimentStatusSchema),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
          cursor: Type.Optional(
            Type.String({ format: 'uuid', description: 'nextCursor of the previous page' }),
          ),
        }),
        response: { 200: ExperimentListSchema, ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { status, limit = 50, cursor } = request.query;
      const rows = await db.experiment.findMany({
        where: { teamId: principal.teamId, ...(status ? { status: status as never } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
        ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
        include: experimentInclude,
      });
      const page = rows.slice(0, limit);
      return {
        items: page.map(experimentView),
        nextCursor: rows.length > limit ? page[page.length - 1].id : null,
      };
    },
  );

  app.get(
    '/v1/experiments/:id',
    {
      schema: {
        tags,
        summary: 'Status, progress, layers, checkpoints and summary of one experiment',
        params: IdParams,
        response: { 200: Type.Ref('Experiment'), ...errorResponses },
      },
    },
    async (request) => experimentView(await readableExperiment(db, request, request.params.id)),
  );

  app.post(
    '/v1/experiments/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a queued or running experiment',
        params: IdParams,
        response: { 202: Type.Ref('Experiment'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const row = await findOwned(principalOf(request).teamId, request.params.id);
      if (isTerminal(row.status)) {
        throw new HttpError(409, 'EXPERIMENT_FINISHED', `experiment is already ${row.status}`);
      }
      await db.experiment.update({ where: { id: row.id }, data: { cancelRequested: true } });
      if (row.status === 'queued' || row.status === AWAITING) {
        // Not started: cancel here. A worker that picks the job up anyway sees the terminal state.
        await advance(db, row.id, 'canceled', { message: 'canceled before it started' });
        await withTimeout(deps.queue.remove(row.id), 1_000, 'queue remove').catch(() => undefined);
      }
      return reply.status(202).send(experimentView(await findOwned(row.teamId, row.id)));
    },
  );

  app.delete(
    '/v1/experiments/:id',
    {
      schema: {
        tags,
        summary: 'Delete an experiment (cancels it if running) with its cells and unshared artifacts',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const row = await findOwned(principalOf(request).teamId, request.params.id);
      if (ACTIVE.includes(row.status) || row.status === AWAITING) {
        await db.experiment.update({ where: { id: row.id }, data: { cancelRequested: true } });
        await advance(db, row.id, 'canceled', { message: 'deleted' });
        await withTimeout(deps.queue.remove(row.id), 1_000, 'queue remove').catch(() => undefined);
      }
      const runIds = [row.referenceRunId, row.specimenRunId].filter((x): x is string => Boolean(x));
      await db.experiment.delete({ where: { id: row.id } });
      // Runs no experiment of any team references any more go, with their artifacts, decided under
      // the run key's lock that adoption takes too (store/runs.ts). A run its worker is still training
      // is collected by that worker when it stops (within a second or so of this delete).
      for (const runId of new Set(runIds)) await collectRun(db, deps.artifacts, runId);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/experiments/:id/events',
    {
      schema: {
        tags,
        summary: 'Server-Sent Events of progress; the stream ends at a terminal state',
        params: IdParams,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const owner = request.principal
        ? `key:${request.principal.keyId}`
        : `share:${Buffer.from(hashSecret(request.shareToken ?? '')).toString('hex')}`;
      streams.admit(owner); // before any query: a full process or key answers at once
      const head = await experimentHead(db, request, request.params.id); // one indexed query
      streams.open(reply, head.id, owner);
    },
  );

  await resultRoutes(scope, deps);
  await uploadRoutes(scope, deps);
  await shareRoutes(scope, deps);
}
