// The JSON answer of GET /v1/experiments/:id/tensor (format=json): any sub-block of the tensor
// [refLayer, specLayer, checkpoint(, coefficient)], nested in C order.
import { type Static, Type } from '@sinclair/typebox';
import { SLICE_MEASURES } from '../slice.ts';

const Value = Type.Union([Type.Number(), Type.Null()], { description: 'null: not computed (yet), or NaN' });

export const SliceCheckpointSchema = Type.Object({
  index: Type.Integer(),
  step: Type.Integer({ description: '-1: not recorded yet' }),
  fraction: Type.Number({ description: '-1: not recorded yet' }),
});

export const SLICE_AXES = ['refLayer', 'specLayer', 'checkpoint', 'coefficient'] as const;
export type SliceAxis = (typeof SLICE_AXES)[number];

export const SliceSchema = Type.Object(
  {
    shape: Type.Array(Type.Integer(), { minItems: 2, maxItems: 4, description: 'the length of each axis' }),
    axes: Type.Array(Type.Union(SLICE_AXES.map((a) => Type.Literal(a))), {
      minItems: 2,
      maxItems: 4,
      description:
        'refLayer, specLayer, then checkpoint unless one checkpoint was asked for, then coefficient for measure=coefficients',
    }),
    measure: Type.Union(SLICE_MEASURES.map((m) => Type.Literal(m))),
    labels: Type.Object({
      refLayer: Type.Array(Type.String()),
      specLayer: Type.Array(Type.String()),
      checkpoint: Type.Union([SliceCheckpointSchema, Type.Array(SliceCheckpointSchema)], {
        description: 'the checkpoint asked for, or the list along the checkpoint axis',
      }),
    }),
    values: Type.Array(Type.Array(Type.Union([Value, Type.Array(Value), Type.Array(Type.Array(Value))])), {
      description:
        'nested arrays of `shape` (2 to 4 levels); coefficients are padded with null to the longest vector',
    }),
    counts: Type.Optional(
      Type.Array(Type.Array(Type.Union([Type.Integer(), Type.Array(Type.Integer())])), {
        description:
          'measure=coefficients: the length of each coefficient vector [refLayer][specLayer](, [checkpoint])',
      }),
    ),
  },
  { $id: 'Slice', title: 'Slice' },
);
export type Slice = Static<typeof SliceSchema>;

/** A reference to the registered Slice schema, typed as it. */
export const SliceRef = Type.Unsafe<Slice>(Type.Ref('Slice'));
