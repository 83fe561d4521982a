// Experiments on uploaded activations ("bring your own activations"): the networks were trained
// elsewhere (PyTorch, JAX, …); the user declares the layers, the specimen's checkpoints and the
// number of probe samples, uploads one .npy representation per (network, checkpoint, layer) and
// then asks for the tensor. From then on it is an ordinary experiment.
//
// Addressing a representation (PUT /v1/experiments/:id/activations/:network/:checkpoint/:layer):
//   network     'specimen' — the network whose checkpoints are declared;
//               'reference' — only when the specimen is a separate network: the reference network
//               contributes one representation per layer (its final state), like a trained Net_R.
//               With "specimen": "same" the reference representation of a layer is the specimen's
//               last checkpoint, so nothing is uploaded under 'reference'.
//   checkpoint  specimen: the index in the declared list (0, 1, …), 'step-<n>' for the checkpoint
//               declared with step n, or 'final' for the last one; reference: 'final'.
import { type Static, Type } from '@sinclair/typebox';
import type { NormalisedUpload } from '../contracts/spec.ts';
import { normaliseSimilarity, SimilaritySpecSchema } from './experiment.ts';
import { SpecError } from './run.ts';
import { INT32_MAX, Text } from './text.ts';

export const LAYER_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_-]*$';

const UploadNetworkSchema = Type.Object(
  {
    layers: Type.Array(Type.String({ pattern: LAYER_NAME_PATTERN, maxLength: 64 }), {
      minItems: 1,
      maxItems: 256,
      uniqueItems: true,
      description: 'Layer names in order (the tensor axis); letters, digits, _ and -, starting with a letter',
    }),
  },
  { additionalProperties: false },
);

export const UploadCheckpointSchema = Type.Object(
  {
    step: Type.Integer({ minimum: 0, maximum: INT32_MAX, description: 'Training step of the checkpoint' }),
    fraction: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Fraction of training; default step / last step (1 for a single checkpoint)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const UploadExperimentSpecSchema = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 200, description: 'A label for people' }),
    source: Type.Literal('upload', {
      description: 'The activations are uploaded (PUT …/activations/…), then POST …/complete',
    }),
    samples: Type.Integer({
      minimum: 2,
      maximum: 10_000_000,
      description: 'Probe examples: the first axis of every uploaded array',
    }),
    reference: UploadNetworkSchema,
    specimen: Type.Union([Type.Literal('same'), UploadNetworkSchema], {
      description:
        '"same": the reference representation of a layer is the specimen\'s last checkpoint (its layers are ' +
        "the reference's); or the layers of a separate specimen network",
    }),
    checkpoints: Type.Array(UploadCheckpointSchema, {
      minItems: 1,
      maxItems: 1000,
      description: "The specimen's checkpoints, in increasing step order",
    }),
    similarity: Type.Optional(SimilaritySpecSchema),
  },
  { additionalProperties: false, title: 'UploadExperimentSpec' },
);
export type UploadExperimentSpec = Static<typeof UploadExperimentSpecSchema>;

export type UploadNetwork = 'reference' | 'specimen';

export type { NormalisedUpload };

export function isUploadSpec(spec: unknown): spec is UploadExperimentSpec {
  return typeof spec === 'object' && spec !== null && (spec as { source?: unknown }).source === 'upload';
}

/**
 * Fills the defaults: fractions (step / last step), similarity (conv layers default to global mean
 * pooling here: the layer kinds are only known once uploaded, and conv and dense layers must share
 * the sample count). Throws SpecError naming the field.
 */
export function normaliseUploadSpec(spec: UploadExperimentSpec): NormalisedUpload {
  const steps = spec.checkpoints.map((c) => c.step);
  for (let i = 1; i < steps.length; i++) {
    if (steps[i] <= steps[i - 1]) {
      throw new SpecError(
        `checkpoints.${i}.step`,
        `steps must increase: ${steps[i]} follows ${steps[i - 1]}`,
      );
    }
  }
  const last = steps[steps.length - 1];
  const checkpoints = spec.checkpoints.map((c, index) => ({
    index,
    step: c.step,
    fraction: c.fraction ?? (last === 0 ? 1 : c.step / last),
  }));
  for (let i = 1; i < checkpoints.length; i++) {
    if (checkpoints[i].fraction < checkpoints[i - 1].fraction) {
      throw new SpecError(`checkpoints.${i}.fraction`, 'fractions must not decrease with the step');
    }
  }
  if (spec.similarity?.convMode === 'pool') {
    // the pool grid is sized from a trained network's layer shapes; uploads stream their arrays
    throw new SpecError(
      'similarity.convMode',
      "'pool' is for trained networks; use 'positions', 'mean' or 'flatten'",
    );
  }
  const same = spec.specimen === 'same';
  const specimenLayers = spec.specimen === 'same' ? spec.reference.layers : spec.specimen.layers;
  return {
    name: spec.name,
    samples: spec.samples,
    same,
    layers: { reference: [...spec.reference.layers], specimen: [...specimenLayers] },
    checkpoints,
    similarity: normaliseSimilarity(spec.similarity ?? {}, 'mean'),
  };
}

/** Which stored checkpoint a path's :checkpoint names, or a message saying what is accepted. */
export function resolveUploadCheckpoint(
  u: NormalisedUpload,
  network: UploadNetwork,
  token: string,
): { index: number } | { error: string } {
  if (network === 'reference') {
    if (token === 'final') return { index: 0 };
    return { error: `reference representations are addressed as checkpoint 'final', not '${token}'` };
  }
  const n = u.checkpoints.length;
  if (token === 'final') return { index: n - 1 };
  if (/^\d+$/.test(token) && Number(token) < n) return { index: Number(token) };
  const step = /^step-(\d+)$/.exec(token);
  if (step) {
    const c = u.checkpoints.find((x) => x.step === Number(step[1]));
    if (c) return { index: c.index };
    return { error: `no checkpoint declared with step ${step[1]}` };
  }
  return {
    error: `checkpoint '${token}' is not an index below ${n}, 'step-<declared step>' or 'final'`,
  };
}

/** Every (network, checkpoint index, layer) the experiment needs before its tensor can be computed. */
export function requiredRepresentations(
  u: NormalisedUpload,
): Array<{ network: UploadNetwork; checkpoint: number; layer: string }> {
  const out: Array<{ network: UploadNetwork; checkpoint: number; layer: string }> = [];
  if (!u.same)
    for (const layer of u.layers.reference) out.push({ network: 'reference', checkpoint: 0, layer });
  for (const c of u.checkpoints)
    for (const layer of u.layers.specimen) out.push({ network: 'specimen', checkpoint: c.index, layer });
  return out;
}
