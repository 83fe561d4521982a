// /v1/experiments: submit, list, read, cancel, delete, progress events, a tensor slice.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance } from 'fastify';
import { type ExperimentSpec, ExperimentSpecSchema, inline } from '../../../../core/spec/experiment.ts';
import { isUploadSpec, UploadExperimentSpecSchema } from '../../../../core/spec/upload.ts';
import { hashSecret } from '../../../../store/auth.ts';
import {
  cancelExperiment,
  deleteExperiment,
  findOwned,
  listExperiments,
} from '../../../../store/repository.ts';
import { experimentHead, readableExperiment } from '../../../access.ts';
import type { RouteDeps } from '../../../app.ts';
import { EventStreams } from '../../../events.ts';
import { principalOf } from '../../../plugins/auth.ts';
import { errorResponses, HttpError } from '../../../schemas/error.ts';
import {
  DryRunSchema,
  ExperimentListSchema,
  ExperimentStatusSchema,
  SubmittedSchema,
} from '../../../schemas/experiment.ts';
import { IdParams } from '../../../schemas/params.ts';
import { dryRunView, planTrained, planUpload, submitExperiment } from '../../../submission.ts';
import { describeTypeBoxError } from '../../../validation.ts';
import { experimentView } from '../../../views.ts';
import { resultRoutes } from './results.ts';
import { shareRoutes } from './shares.ts';
import { uploadRoutes } from './uploads.ts';

const tags = ['experiments'];

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
      const body = request.body;
      const plan = isUploadSpec(body)
        ? planUpload(body, config)
        : planTrained(body as ExperimentSpec, config);
      if (request.query.dryRun) return reply.status(200).send(dryRunView(plan));
      const teamId = principalOf(request).teamId;
      const key = request.headers['idempotency-key'];
      const { status, body: answer } = await submitExperiment(deps, plan, teamId, key, request.log);
      return reply.status(status).send(answer);
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
      const { status, limit = 50, cursor } = request.query;
      const page = await listExperiments(db, principalOf(request).teamId, { status, limit, cursor });
      return { items: page.items.map(experimentView), nextCursor: page.nextCursor };
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
      const row = await findOwned(db, principalOf(request).teamId, request.params.id);
      await cancelExperiment(db, deps.queue, row);
      return reply.status(202).send(experimentView(await findOwned(db, row.teamId, row.id)));
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
      const row = await findOwned(db, principalOf(request).teamId, request.params.id);
      await deleteExperiment(db, deps.queue, deps.artifacts, row);
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
