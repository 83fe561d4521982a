// The one error body every 4xx/5xx answer uses (referenced by every route's response schema).
import { type Static, Type } from '@sinclair/typebox';

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer({ description: 'HTTP status' }),
    code: Type.String({ description: 'stable UPPER_SNAKE error code', pattern: '^[A-Z][A-Z0-9_]*$' }),
    message: Type.String({ description: 'human-readable explanation' }),
    details: Type.Optional(
      Type.Unknown({ description: 'machine-readable specifics (field, limit, estimate …)' }),
    ),
  },
  { $id: 'Error', title: 'Error' },
);
export type ErrorBody = Static<typeof ErrorSchema>;

/** An error that becomes an HTTP answer with a stable code. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const errorResponses = {
  400: Type.Ref('Error'),
  401: Type.Ref('Error'),
  403: Type.Ref('Error'),
  404: Type.Ref('Error'),
  409: Type.Ref('Error'),
  413: Type.Ref('Error'),
  422: Type.Ref('Error'),
  429: Type.Ref('Error'),
  500: Type.Ref('Error'),
  503: Type.Ref('Error'),
} as const;
