// The JSON body of a fetch Response as the contract the route answers with, typed from the generated
// OpenAPI document (openapi/schema.d.ts). Tests name what they expect: `await readJson<Experiment>(res)`.
import type { components, paths } from '../../openapi/schema.d.ts';

export type Schemas = components['schemas'];
export type Experiment = Schemas['Experiment'];
export type ErrorBody = Schemas['Error'];
export type Summary = Schemas['ExperimentSummary'];
export type Estimate = Schemas['Estimate'];
export type Slice = Schemas['Slice'];

/** The JSON body a route answers with this status. */
export type Answer<
  P extends keyof paths,
  M extends 'get' | 'post' | 'put' | 'delete',
  S extends number,
> = paths[P][M] extends { responses: { [K in S]: { content: { 'application/json': infer B } } } } ? B : never;

export type Submitted = Answer<'/v1/experiments', 'post', 202>;
export type UploadCreated = Answer<'/v1/experiments', 'post', 201>;
export type DryRun = Answer<'/v1/experiments', 'post', 200>;
export type ExperimentPage = Answer<'/v1/experiments', 'get', 200>;
export type CreatedShare = Answer<'/v1/experiments/{id}/shares', 'post', 201>;
export type Analysis = Answer<'/v1/experiments/{id}/analysis', 'get', 200>;
export type Uploaded = Answer<'/v1/experiments/{id}/activations/{network}/{checkpoint}/{layer}', 'put', 201>;

type Cell = number | null;
type SliceCheckpoint = { index: number; step: number; fraction: number };
/**
 * A JSON slice as a test asked for it: its values nested D deep (2: one checkpoint, 3: a checkpoint
 * axis or one checkpoint's coefficients, 4: coefficients over checkpoints) and its checkpoint label
 * one checkpoint ('one') or the list along the axis ('many').
 */
export type SliceOf<D extends 2 | 3 | 4, C extends 'one' | 'many' = D extends 2 ? 'one' : 'many'> = Omit<
  Slice,
  'values' | 'labels'
> & {
  labels: Omit<Slice['labels'], 'checkpoint'> & {
    checkpoint: C extends 'one' ? SliceCheckpoint : SliceCheckpoint[];
  };
  values: D extends 2 ? Cell[][] : D extends 3 ? Cell[][][] : Cell[][][][];
};

/** The response's JSON body as `T` (what the route's response schema says it answers). */
export async function readJson<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** An error body whose `details` the test knows the shape of (the schema says only "specifics"). */
export type ErrorWith<D> = Omit<ErrorBody, 'details'> & { details: D };
