// Every success answer in openapi/openapi.json has a real response schema: no 200/201/202 without
// one, and no schema that says nothing (`{}`, or only a description) except a documented binary or
// text body (type string). Walks the committed document (test/openapi/drift.test.ts keeps it current).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../../config/index.ts';

type Schema = Record<string, unknown>;
interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

const doc = JSON.parse(readFileSync(join(repoRoot, 'openapi', 'openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};

/** Keywords that constrain a value; a schema with none of them accepts anything. */
const SHAPE = ['type', '$ref', 'anyOf', 'oneOf', 'allOf', 'const', 'enum', 'properties', 'items', 'not'];
const says = (schema: Schema) => SHAPE.some((k) => k in schema);

/** Paths inside `schema` (a JSON pointer-ish trail) where a schema accepts anything. */
function emptySchemas(schema: unknown, at: string, out: string[] = []): string[] {
  if (Array.isArray(schema)) {
    for (const [i, s] of schema.entries()) emptySchemas(s, `${at}/${i}`, out);
    return out;
  }
  if (typeof schema !== 'object' || schema === null) return out;
  const s = schema as Schema;
  if (!says(s)) out.push(at || '/');
  for (const key of ['properties', 'patternProperties']) {
    const props = s[key];
    if (props && typeof props === 'object')
      for (const [name, sub] of Object.entries(props)) emptySchemas(sub, `${at}/${key}/${name}`, out);
  }
  for (const key of ['items', 'anyOf', 'oneOf', 'allOf', 'additionalProperties', 'not']) {
    if (key in s && typeof s[key] === 'object') emptySchemas(s[key], `${at}/${key}`, out);
  }
  return out;
}

const successes = Object.entries(doc.paths).flatMap(([path, ops]) =>
  Object.entries(ops).flatMap(([method, op]) =>
    Object.entries(op.responses ?? {})
      .filter(([status]) => ['200', '201', '202'].includes(status))
      .map(([status, response]) => ({ where: `${method.toUpperCase()} ${path} ${status}`, response })),
  ),
);

describe('openapi/openapi.json success responses', () => {
  it('lists the success answers of the API (the walk below sees them)', () => {
    assert.ok(successes.length >= 20, `${successes.length} success responses`);
    assert.ok(successes.some((s) => s.where === 'GET /v1/experiments/{id}/tensor 200'));
  });

  it('every 200/201/202 has a content schema', () => {
    const missing = successes
      .filter(({ response }) => {
        const content = Object.values(response.content ?? {});
        return content.length === 0 || content.some((c) => !c.schema);
      })
      .map((s) => s.where);
    assert.deepEqual(missing, []);
  });

  it('no success schema accepts anything: only binary or text bodies are plain strings', () => {
    const empty = successes.flatMap(({ where, response }) =>
      Object.entries(response.content ?? {}).flatMap(([type, c]) =>
        emptySchemas(c.schema, '').map((at) => `${where} ${type} ${at}`),
      ),
    );
    assert.deepEqual(empty, []);
    // a body described as a string is a documented binary or text body, never JSON
    const strings = successes.flatMap(({ where, response }) =>
      Object.entries(response.content ?? {})
        .filter(([, c]) => c.schema?.type === 'string')
        .map(([type]) => ({ where, type })),
    );
    for (const { where, type } of strings) {
      assert.ok(
        type === 'application/octet-stream' || type.startsWith('text/') || type === 'image/svg+xml',
        `${where}: a ${type} body is described as a plain string`,
      );
    }
  });

  it('the contracts the routes answer are components, with no schema inside them that accepts anything', () => {
    for (const name of ['Experiment', 'ExperimentSummary', 'Estimate', 'UploadEstimate', 'Slice']) {
      assert.ok(doc.components.schemas[name], `components.schemas.${name}`);
    }
    const empty = Object.entries(doc.components.schemas)
      .filter(([name]) => name !== 'Error') // Error.details: machine-readable specifics of any shape
      .flatMap(([name, schema]) => emptySchemas(schema, `#/components/schemas/${name}`));
    assert.deepEqual(empty, []);
  });

  it('the JSON slice is documented beside its .npy and CSV forms', () => {
    const content =
      doc.paths['/v1/experiments/{id}/tensor']?.get?.responses?.['200']?.content ??
      ({} as Record<string, never>);
    assert.deepEqual(Object.keys(content).sort(), [
      'application/json',
      'application/octet-stream',
      'text/csv',
    ]);
    assert.deepEqual(content['application/json']?.schema, { $ref: '#/components/schemas/Slice' });
  });
});
