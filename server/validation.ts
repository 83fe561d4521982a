// A request that fails its schema is answered with one message that names the property and says
// what is wrong in words: `body.reference.trainig: unknown property; did you mean "training"?`,
// `querystring.status: must be one of queued, training, …` (an enum lists its values once, not one
// "must be equal to constant" per value). Used by the error plugin for every route.
import { ValueErrorType } from '@sinclair/typebox/errors';
import { TEXT_MESSAGE, TEXT_PATTERN } from '../core/spec/text.ts';

/** The fields of an Ajv error this module reads. */
export interface SchemaError {
  instancePath: string;
  schemaPath?: string;
  keyword: string;
  params?: Record<string, unknown>;
  message?: string;
}

export interface Described {
  /** dotted path of the offending property, prefixed with the part of the request ('body.reference.trainig') */
  field: string;
  message: string;
}

const SUMMARY = new Set(['anyOf', 'oneOf', 'if', 'not']);

function segments(path: string): string[] {
  return path.split('/').filter(Boolean);
}

/** The property an error is about: its instance path, plus the missing or unknown property it names. */
function propertyPath(e: SchemaError): string[] {
  const own = segments(e.instancePath);
  const named = (e.params?.['missingProperty'] ?? e.params?.['additionalProperty']) as string | undefined;
  return named === undefined ? own : [...own, named];
}

/**
 * A request part that is a union of alternatives (the POST body: a trained or an upload spec) is
 * explained by its first alternative's errors; a route that wants another alternative reported
 * checks it first (the upload spec, in preValidation).
 */
function firstAlternative<E extends SchemaError>(errors: readonly E[]): readonly E[] {
  const first = errors.filter((e) => /^#\/(anyOf|oneOf)\/0\//.test(e.schemaPath ?? ''));
  return first.length > 0 ? first : errors;
}

/** Lower is more telling, among errors about the same property. */
function rank(e: SchemaError): number {
  if (e.keyword === 'const' || e.keyword === 'enum') return 2;
  if (e.keyword === 'type') return 1;
  return 0;
}

/**
 * The error that best explains the failure: the deepest property (a union of an object and a
 * literal fails on both branches; the object's inner error says more), then a specific keyword over
 * a type or constant mismatch, then the first.
 */
export function bestError<E extends SchemaError>(errors: readonly E[]): E | undefined {
  const candidates = errors.filter((e) => !SUMMARY.has(e.keyword));
  const pool = candidates.length > 0 ? candidates : errors;
  let best: E | undefined;
  for (const e of pool) {
    if (!best) {
      best = e;
      continue;
    }
    const depth = propertyPath(e).length - propertyPath(best).length;
    if (depth > 0 || (depth === 0 && rank(e) < rank(best))) best = e;
  }
  return best;
}

/** Levenshtein distance (short property names only). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** "did you mean "training"?" for a near miss, else the allowed names. */
export function unknownPropertyMessage(name: string, allowed: readonly string[]): string {
  let closest: string | undefined;
  let best = Number.POSITIVE_INFINITY;
  for (const candidate of allowed) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < best) {
      best = d;
      closest = candidate;
    }
  }
  if (closest !== undefined && best <= Math.max(2, Math.floor(closest.length / 3))) {
    return `unknown property; did you mean "${closest}"?`;
  }
  return allowed.length > 0 ? `unknown property; allowed: ${allowed.join(', ')}` : 'unknown property';
}

/** The subschema at a JSON pointer ("#/anyOf/0/properties/reference"), or undefined. */
function schemaAt(root: unknown, pointer: string[]): unknown {
  let node: unknown = root;
  for (const part of pointer) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

function allowedProperties(root: unknown, e: SchemaError): string[] {
  if (!e.schemaPath) return [];
  const pointer = e.schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean);
  const parent = schemaAt(root, pointer.slice(0, -1)) as { properties?: Record<string, unknown> } | undefined;
  return parent?.properties ? Object.keys(parent.properties) : [];
}

/** The constants of a union of literals that `e` failed (every const error at the same place). */
function allowedConstants(errors: readonly SchemaError[], e: SchemaError): unknown[] {
  if (e.keyword === 'enum') return (e.params?.['allowedValues'] as unknown[] | undefined) ?? [];
  const values: unknown[] = [];
  for (const other of errors) {
    if (other.keyword === 'const' && other.instancePath === e.instancePath) {
      const v = other.params?.['allowedValue'];
      if (!values.includes(v)) values.push(v);
    }
  }
  return values;
}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * One field and message for a failed schema validation. `context`: the part of the request
 * ('body', 'querystring', 'params', 'headers'); `schema`: the schema validated against (for the
 * names an unknown property could have meant).
 */
export function describeValidation(
  all: readonly SchemaError[],
  context: string | undefined,
  schema?: unknown,
): Described | undefined {
  const errors = firstAlternative(all);
  const e = bestError(errors);
  if (!e) return undefined;
  const field = [context, ...propertyPath(e)].filter(Boolean).join('.');
  let message = e.message ?? 'invalid';
  if (e.keyword === 'additionalProperties') {
    message = unknownPropertyMessage(String(e.params?.['additionalProperty']), allowedProperties(schema, e));
  } else if (e.keyword === 'const' || e.keyword === 'enum' || e.keyword === 'type') {
    // a union of literals (and perhaps other types) at this place: every alternative, once
    const here = errors.filter((o) => o.instancePath === e.instancePath);
    const values = allowedConstants(here, e).map((v) => JSON.stringify(v));
    const types = here.filter((o) => o.keyword === 'type').map((o) => article(String(o.params?.['type'])));
    const words = e.keyword === 'enum' ? values : [...values, ...types];
    if (e.keyword !== 'type' || values.length > 0) {
      message =
        words.length === 1
          ? `must be ${words[0]}`
          : e.keyword !== 'type' && types.length === 0
            ? `must be one of ${allowedConstants(here, e).map(show).join(', ')}`
            : `must be ${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
    }
  } else if (e.keyword === 'pattern' && e.params?.['pattern'] === TEXT_PATTERN) {
    message = TEXT_MESSAGE;
  }
  return { field, message };
}

/** The fields of a TypeBox ValueError this module reads. */
export interface TypeBoxError {
  type: number;
  path: string;
  message: string;
  schema: unknown;
}

/** One field and message for a TypeBox error (`context` as in describeValidation). */
export function describeTypeBoxError(e: TypeBoxError, context: string): Described {
  const path = segments(e.path);
  const field = [context, ...path].join('.');
  const schema = e.schema as {
    properties?: Record<string, unknown>;
    anyOf?: Array<{ const?: unknown }>;
    pattern?: string;
  };
  if (e.type === ValueErrorType.ObjectAdditionalProperties) {
    return {
      field,
      message: unknownPropertyMessage(path[path.length - 1] ?? '', Object.keys(schema.properties ?? {})),
    };
  }
  if (e.type === ValueErrorType.Union && schema.anyOf?.every((s) => 'const' in s)) {
    const values = schema.anyOf.map((s) => show(s.const));
    return { field, message: `must be one of ${values.join(', ')}` };
  }
  if (schema.pattern === TEXT_PATTERN) return { field, message: TEXT_MESSAGE };
  return { field, message: e.message };
}
