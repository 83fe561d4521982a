// The analysis warning as the API shows it (GET /v1/experiments/:id `warnings`, summary.warnings).
import { Type } from '@sinclair/typebox';

/** Registered with the app ($id 'AnalysisWarning'); other schemas refer to it (warningRef). */
export const WarningSchema = Type.Object(
  {
    code: Type.String({
      description:
        "lower-kebab-case: 'few-samples', 'constant-layer', 'rank-deficient', 'conv-reduction', 'null-near-one', …",
    }),
    message: Type.String({ description: 'plain words naming the layer(s) and the numbers' }),
    network: Type.Optional(Type.Union([Type.Literal('reference'), Type.Literal('specimen')])),
    layer: Type.Optional(Type.String()),
    refLayer: Type.Optional(Type.String()),
    specLayer: Type.Optional(Type.String()),
    checkpoint: Type.Optional(Type.Integer()),
  },
  { $id: 'AnalysisWarning', title: 'AnalysisWarning' },
);
