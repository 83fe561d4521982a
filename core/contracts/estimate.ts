// The estimate made before an experiment is queued (core/estimate.ts), as the API answers it
// (POST /v1/experiments, the dry run, GET /v1/experiments/:id `estimate`, 422 details).
import { type Static, Type } from '@sinclair/typebox';

export const EstimateSchema = Type.Object(
  {
    cells: Type.Integer({ description: 'tensor cells: reference layers × specimen layers × checkpoints' }),
    checkpoints: Type.Integer(),
    representation: Type.Object({
      maxFeatures: Type.Integer({ description: 'widest representation (columns CCA sees)' }),
      maxSamples: Type.Integer({ description: 'most samples of a representation (rows CCA sees)' }),
    }),
    memoryMB: Type.Number({ description: 'peak memory of the worker' }),
    diskMB: Type.Number({ description: 'stored representations' }),
    seconds: Type.Object({
      training: Type.Number(),
      capture: Type.Number(),
      tensor: Type.Number(),
      total: Type.Number(),
    }),
    samples: Type.Optional(
      Type.Integer({ description: 'uploaded activations: the probe samples (set at POST …/complete)' }),
    ),
  },
  { $id: 'Estimate', title: 'Estimate', description: 'memory and time estimated from the layer shapes' },
);
export type Estimate = Static<typeof EstimateSchema>;

export const UploadEstimateSchema = Type.Object(
  {
    cells: Type.Integer(),
    checkpoints: Type.Integer(),
    samples: Type.Integer(),
    representations: Type.Integer({ description: 'representations to upload before POST …/complete' }),
    note: Type.String(),
  },
  {
    $id: 'UploadEstimate',
    title: 'UploadEstimate',
    description:
      'an experiment on uploaded activations before POST …/complete: its size; memory and time follow from the uploaded shapes',
  },
);
export type UploadEstimate = Static<typeof UploadEstimateSchema>;

/** References to the registered Estimate and UploadEstimate schemas, typed as them. */
export const EstimateRef = Type.Unsafe<Estimate>(Type.Ref('Estimate'));
export const UploadEstimateRef = Type.Unsafe<UploadEstimate>(Type.Ref('UploadEstimate'));

/** What an experiment's `estimate` holds: the full estimate, or an upload's before its arrays arrive. */
export const ExperimentEstimateSchema = Type.Union([EstimateRef, UploadEstimateRef], {
  description: 'memory/time estimate made before queueing',
});
export type ExperimentEstimate = Static<typeof ExperimentEstimateSchema>;
