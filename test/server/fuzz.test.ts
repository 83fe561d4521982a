// Hostile input never causes a 5xx and never queues work: thousands of generated malformed
// experiment specs (wrong types, missing and extra fields, huge/negative numbers, NaN-like strings,
// deep nesting, unicode, huge arrays), raw bodies (invalid JSON, wrong content types) and query
// strings for the slice, figure and activation endpoints; upload declarations and uploads (.npy
// bodies, path parameters); share-token requests in every spelling, on reads and writes, and the
// share routes. fast-check with a fixed seed; in-process
// app (inject) on the real Postgres/Redis. MAX_TENSOR_CELLS=1 makes every spec that gets past
// validation end at the limit check (422), so the deep paths (normalisation, estimate) are exercised
// and still nothing may be created or queued.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeNpy, encodeNpyHeader } from '../../core/npy.ts';
import { seedExperiment, startApp, type TestApp } from '../helpers/app.ts';
import { tinySpec } from '../helpers/service.ts';

const SEED = 20261127;
const SPEC_CASES = 2000;
const RAW_CASES = 400;
const QUERY_CASES = 1200;
const UPLOAD_SPEC_CASES = 300;
const PUT_CASES = 300;
const SHARE_CASES = 600;
const ERROR_CODE = /^[A-Z][A-Z0-9_]*$/;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const convRun = {
  dataset: 'cifar10',
  architecture: { type: 'conv', conv: [{ filters: 8, kernel: 3, pool: 2 }], dense: [16], activation: 'tanh' },
  training: {
    epochs: 1,
    batchSize: 32,
    trainExamples: 256,
    optimizer: { type: 'adam', learningRate: 0.001 },
  },
  checkpoints: { steps: [0, 2, 5] },
};
const BASES: Json[] = [
  tinySpec() as Json,
  { name: 'conv', reference: convRun, specimen: { ...convRun, training: { ...convRun.training, seed: 2 } } },
  {
    name: 'preset',
    reference: { dataset: 'mnist', architecture: { preset: 'mnist-fc' } },
    specimen: 'same',
    probe: { examples: 100 },
    similarity: { methods: ['cca'], svccaThreshold: 0.9, epsilon: 1e-8, convMode: 'mean' },
  },
  {
    name: 'fashion',
    reference: {
      dataset: 'fashion-mnist',
      architecture: { type: 'mlp', hidden: [16], activation: 'sigmoid' },
      checkpoints: { count: 3, spacing: 'linear' },
    },
    specimen: 'same',
  },
];

/** Values that break types and ranges. */
const nasty: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    -1,
    0,
    -0.5,
    1e308,
    -1e308,
    2 ** 53 + 1,
    1e-320,
    4294967297,
    'NaN',
    'Infinity',
    '-Infinity',
    '1e309',
    '0x10',
    '',
    ' ',
    '\u0000',
    '\ud800',
    'null',
    'true',
    'same',
    '🙂'.repeat(300),
    'a'.repeat(5000),
    [],
    {},
    [1, 2],
    [[]],
    ['cca', 'cca'],
  ),
  fc.integer(),
  fc.double().map((d) => (Number.isFinite(d) ? d : String(d))),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.nat(), { maxLength: 300 }),
  fc.nat({ max: 2000 }).map((depth) => {
    let v: Json = 1;
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
    return v;
  }),
  fc.constant(Array.from({ length: 20_000 }, (_, i) => i)), // over the body limit
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

interface Mutation {
  op: 'delete' | 'set' | 'extra';
  at: number;
  key: string;
  value: Json;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('delete', 'set', 'set', 'extra'),
  at: fc.nat(),
  key: fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'name', 'hidden', 'type'),
  ),
  value: nasty,
});

/** Paths to the values inside `v` (the root is []), down to depth 6 and 20 items per array. */
function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(prefix);
  if (prefix.length >= 6) return out;
  if (Array.isArray(v)) v.slice(0, 20).forEach((x, i) => void paths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k], [...prefix, k], out);
  return out;
}

/** Sets an own property, even one named __proto__ (plain assignment would set the prototype). */
function setOwn(target: object, key: string, value: Json): void {
  Object.defineProperty(target, key, {
    value: structuredClone(value),
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function apply(base: Json, mutations: Mutation[]): Json {
  const root = structuredClone(base) as Json;
  for (const m of mutations) {
    const all = paths(root);
    const path = all[m.at % all.length];
    if (path.length === 0) {
      if (m.op === 'extra' && root && typeof root === 'object' && !Array.isArray(root))
        setOwn(root, m.key, m.value);
      continue;
    }
    const parent = path.slice(0, -1).reduce<Json>((o, k) => (o as Record<string, Json>)[k], root) as
      | Record<string, Json>
      | Json[];
    const last = path[path.length - 1];
    if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last as string];
    } else if (m.op === 'set') {
      (parent as Record<string, Json>)[last as string] = structuredClone(m.value);
    } else {
      const target = (parent as Record<string, Json>)[last as string];
      if (target && typeof target === 'object' && !Array.isArray(target)) setOwn(target, m.key, m.value);
      else if (!Array.isArray(parent)) parent[last as string] = { [m.key]: structuredClone(m.value) };
    }
  }
  return root;
}

const specCase = fc.record({
  base: fc.constantFrom(...BASES),
  mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
  idempotencyKey: fc.option(fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent)),
});

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/octet-stream',
  'image/svg+xml',
];

const rawCase = fc.record({
  contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
  body: fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constantFrom(
      '',
      '{',
      '[]',
      'null',
      '1',
      '"x"',
      '{"name": }',
      '{"__proto__": {"polluted": 1}, "name": "x"}',
      '{"constructor": {"prototype": {"x": 1}}}',
      '{"name": "a", "name": "b"}',
      `${'['.repeat(100_000)}`,
      `{"name":"${'\\u0000'.repeat(100)}"}`,
    ),
    fc
      .tuple(fc.constantFrom(...BASES), fc.nat())
      .map(([b, n]) => JSON.stringify(b).slice(0, n % JSON.stringify(b).length)),
    fc.constantFrom(...BASES).map((b) => `name=${encodeURIComponent(JSON.stringify(b))}`),
  ),
});

const LAYERS = ['input', 'fc1', 'fc2', 'logits'];
const queryValue = fc.oneof(
  fc.constantFrom(
    ...LAYERS,
    '0',
    '3',
    '4',
    '-1',
    '0,1',
    '0,,1',
    ',',
    'fc1,fc1,fc1',
    'NaN',
    'Infinity',
    '1e309',
    '99999999999999999999',
    '0.5',
    '1.0000001',
    'rho',
    'coefficients',
    'svcca',
    'npy',
    'csv',
    'json',
    'xml',
    'reference',
    'specimen',
    'symlog',
    'linear',
    '../../../etc/passwd',
    'a'.repeat(3000),
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc
    .array(fc.constantFrom(...LAYERS, '0', '1', '2', '3'), { minLength: 1, maxLength: 20 })
    .map((a) => a.join(',')),
);
const PARAMS = [
  'refLayer',
  'specLayer',
  'checkpoint',
  'step',
  'fraction',
  'measure',
  'format',
  'share',
  'network',
  'layer',
  'fractions',
  'scale',
  'threshold',
  'status',
  'limit',
  'cursor',
];
const RAW_FRAGMENTS = ['%', '%ZZ', '%00', '%C0%AE', '&&', '==', ';', '+', '%2', '[]=1'];

const queryCase = fc.record({
  route: fc.constantFrom(
    '/tensor',
    '/tensor',
    '/tensor',
    '/figures/heatmaps.svg',
    '/figures/convergence.svg',
    '/figures/crawl.svg',
    '/analysis',
    '/activations',
    '',
    'LIST',
  ),
  id: fc.oneof(
    { weight: 8, arbitrary: fc.constant('EXP') },
    fc.constantFrom(
      'not-a-uuid',
      '00000000-0000-0000-0000-000000000000',
      '%00',
      'EXP%20',
      `${'f'.repeat(300)}`,
    ),
    fc.uuid(),
  ),
  pairs: fc.array(
    fc.tuple(
      fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...PARAMS) }, fc.string({ maxLength: 8 })),
      queryValue,
    ),
    { maxLength: 7 },
  ),
  raw: fc.option(fc.constantFrom(...RAW_FRAGMENTS), { freq: 4 }),
  method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD'),
});

const UPLOAD_BASE: Json = {
  name: 'upload',
  source: 'upload',
  samples: 8,
  reference: { layers: ['fc1'] },
  specimen: 'same',
  checkpoints: [{ step: 0 }],
};
const UPLOAD_BASES: Json[] = [
  UPLOAD_BASE,
  {
    name: 'two networks',
    source: 'upload',
    samples: 16,
    reference: { layers: ['a', 'b'] },
    specimen: { layers: ['c'] },
    checkpoints: [{ step: 0, fraction: 0 }, { step: 3000 }],
    similarity: { methods: ['cca'], convMode: 'flatten' },
  },
];
const uploadSpecCase = fc.record({
  base: fc.constantFrom(...UPLOAD_BASES),
  mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
});

/** .npy bodies: valid ones of the wrong size, truncated, lying headers, NaN, garbage. */
const npyBody: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constant(Buffer.from(encodeNpy(new Float32Array(8 * 4), [8, 4]))),
  fc.constant(Buffer.from(encodeNpy(new Float32Array(8 * 4).fill(Number.NaN), [8, 4]))),
  fc.constant(Buffer.from(encodeNpy(new Float64Array(7 * 4), [7, 4]))),
  fc.constant(Buffer.from(encodeNpy(new Float32Array(8 * 2 * 2 * 3), [8, 2, 2, 3]))),
  fc.nat({ max: 200 }).map((n) => Buffer.from(encodeNpy(new Float32Array(8 * 4), [8, 4])).subarray(0, n)),
  fc.constant(Buffer.concat([Buffer.from(encodeNpyHeader('float32', [8, 1e9])), Buffer.alloc(64)])),
  fc.constant(
    Buffer.concat([Buffer.from('\x93NUMPY\x02\x00', 'latin1'), Buffer.from([0xf0, 0xff, 0xff, 0xff])]),
  ),
  fc.constant(
    Buffer.concat([
      Buffer.from('\x93NUMPY\x01\x00', 'latin1'),
      Buffer.from([0x00, 0x10]),
      Buffer.from(`{'descr': '<f4', 'fortran_order': False, 'shape': ${'['.repeat(2000)}, }`.padEnd(4096)),
    ]),
  ),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
);

const putCase = fc.record({
  network: fc.constantFrom('specimen', 'specimen', 'reference', 'both', '%00', 'SPECIMEN', 'a'.repeat(90)),
  checkpoint: fc.constantFrom('0', 'final', 'step-0', '1', '-1', 'step-99999999999', 'step-', '%ZZ'),
  layer: fc.constantFrom('fc1', 'fc1', 'fc2', 'FC1', '%00', '..%2F..%2Fetc', 'a'.repeat(120)),
  contentType: fc.constantFrom(
    'application/octet-stream',
    'application/octet-stream',
    'application/x-npy',
    'application/json',
    'text/plain',
  ),
  body: npyBody,
  next: fc.constantFrom('nothing', 'nothing', 'complete', 'status'),
});

/** share= in its many spellings; TOKEN / OTHER stand for a live token and another experiment's. */
const shareParam = fc.constantFrom(
  'share=TOKEN',
  'share=TOKEN',
  'share[]=TOKEN',
  'share%5B%5D=TOKEN',
  'share=TOKEN&share=TOKEN',
  'share=TOKEN&share=x',
  'Share=TOKEN',
  '%73hare=TOKEN',
  'share=OTHER',
  'share=REVOKED',
  'share=',
  'share=%00',
  'share=%ZZ',
  `share=${'a'.repeat(3000)}`,
);
const shareCase = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'DELETE', 'PUT'),
  route: fc.constantFrom(
    '',
    '/tensor',
    '/tensor',
    '/analysis',
    '/figures/heatmaps.svg',
    '/shares',
    '/shares/SHARE',
    '/cancel',
    '/complete',
    '/uploads',
    '/activations',
    '/activations/specimen/0/fc1',
  ),
  share: shareParam,
  extra: fc.array(fc.tuple(fc.constantFrom(...PARAMS), queryValue), { maxLength: 4 }),
  withKey: fc.constantFrom(false, false, false, true),
});

describe('fuzzing the API', () => {
  let t: TestApp;
  let expId: string;
  let runId: string;
  const statuses = new Map<number, number>();
  const failures: string[] = [];

  const record = (res: { statusCode: number; body: string }, what: () => string, method = 'GET') => {
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    if (res.statusCode >= 500) failures.push(`${res.statusCode} ${res.body.slice(0, 300)} ← ${what()}`);
    else if (res.statusCode >= 400 && method !== 'HEAD') {
      let code: unknown;
      try {
        code = JSON.parse(res.body).code;
      } catch {}
      if (typeof code !== 'string' || !ERROR_CODE.test(code))
        failures.push(`${res.statusCode} without an error code: ${res.body.slice(0, 200)} ← ${what()}`);
    }
  };

  async function sideEffects() {
    const counts = await t.queue.getJobCounts();
    return {
      rows: await t.db.experiment.count({ where: { teamId: t.teamId } }),
      runs: await t.db.run.count({ where: { id: { not: runId } }, take: 1_000_000 }),
      jobs: Object.values(counts).reduce((a, b) => a + b, 0),
    };
  }

  before(async () => {
    t = await startApp({ MAX_TENSOR_CELLS: '1', RATE_LIMIT_MAX: '0' });
    // one finished experiment (4 x 4 layers x 4 checkpoints) for the read endpoints
    ({ id: expId, runId } = await seedExperiment(t));
  });

  after(async () => {
    await t?.db.run.deleteMany({ where: { id: runId } });
    await t?.close();
    const summary = [...statuses.entries()].sort((a, b) => a[0] - b[0]);
    console.log(`fuzz status counts: ${summary.map(([s, n]) => `${s}×${n}`).join(' ')}`);
  });

  it(`answers ${SPEC_CASES} malformed specs and ${RAW_CASES} raw bodies with 4xx and queues nothing`, async () => {
    const before = await sideEffects();
    const specStatuses = new Set<number>();
    for (const c of fc.sample(specCase, { seed: SEED, numRuns: SPEC_CASES })) {
      const spec = apply(c.base, c.mutations);
      const payload = JSON.stringify(spec);
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        headers: {
          authorization: `Bearer ${t.key}`,
          'content-type': 'application/json',
          ...(c.idempotencyKey ? { 'idempotency-key': c.idempotencyKey } : {}),
        },
        payload,
      });
      specStatuses.add(res.statusCode);
      record(res, () => payload.slice(0, 500), 'POST');
      if (res.statusCode < 400) failures.push(`${res.statusCode} accepted ← ${payload.slice(0, 500)}`);
    }
    for (const c of fc.sample(rawCase, { seed: SEED + 1, numRuns: RAW_CASES })) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        headers: {
          authorization: `Bearer ${t.key}`,
          ...(c.contentType !== undefined ? { 'content-type': c.contentType } : {}),
        },
        payload: c.body,
      });
      specStatuses.add(res.statusCode);
      record(res, () => `${c.contentType}: ${c.body.slice(0, 300)}`, 'POST');
      if (res.statusCode < 400) failures.push(`${res.statusCode} accepted ← ${c.body.slice(0, 300)}`);
    }
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
    // the cases reached schema validation, the spec checks, the limits and the body-size check
    for (const s of [400, 413, 415, 422]) assert.ok(specStatuses.has(s), `some cases answered ${s}`);
    assert.deepEqual(await sideEffects(), before, 'no experiment, run or job was created');
    const probe: Record<string, unknown> = {};
    assert.equal(probe.polluted, undefined, 'no prototype pollution');
  });

  it(`answers ${QUERY_CASES} malformed query strings on the read endpoints without a 5xx`, async () => {
    const before = await sideEffects();
    let ok = 0;
    for (const c of fc.sample(queryCase, { seed: SEED + 2, numRuns: QUERY_CASES })) {
      const query = c.pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
      if (c.raw) query.push(c.raw);
      const id = c.id.replace('EXP', expId);
      const path = c.route === 'LIST' ? '/v1/experiments' : `/v1/experiments/${id}${c.route}`;
      const url = query.length > 0 ? `${path}?${query.join('&')}` : path;
      const res = await t.app.inject({
        method: c.method as 'GET' | 'HEAD',
        url,
        headers: { authorization: `Bearer ${t.key}` },
      });
      if (res.statusCode === 200) ok++;
      record(res, () => `${c.method} ${url.slice(0, 400)}`, c.method);
    }
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
    assert.ok(ok > QUERY_CASES / 20, `some queries were valid and answered 200 (${ok})`);
    assert.deepEqual(await sideEffects(), before);
    const still = await t.app.inject({
      method: 'GET',
      url: `/v1/experiments/${expId}/tensor?measure=rho&checkpoint=3`,
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(still.statusCode, 200, 'the service still answers');
    assert.deepEqual(still.json().shape, [4, 4]);
  });
  it(`answers ${UPLOAD_SPEC_CASES} upload declarations and ${PUT_CASES} uploads without a 5xx`, async () => {
    const started = new Date();
    for (const c of fc.sample(uploadSpecCase, { seed: SEED + 3, numRuns: UPLOAD_SPEC_CASES })) {
      const payload = JSON.stringify(apply(c.base, c.mutations));
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
        payload,
      });
      record(res, () => payload.slice(0, 500), 'POST');
      // MAX_TENSOR_CELLS=1 leaves room for 1 layer x 1 checkpoint declarations only: remove them
      if (res.statusCode === 201) await t.db.experiment.delete({ where: { id: res.json().id } });
    }
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
    let target = '';
    const fresh = async () => {
      if (target) await t.db.experiment.deleteMany({ where: { id: target } });
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        headers: { authorization: `Bearer ${t.key}` },
        payload: UPLOAD_BASE as object,
      });
      assert.equal(res.statusCode, 201, res.body);
      target = res.json().id;
    };
    await fresh();
    const putStatuses = new Set<number>();
    for (const [i, c] of fc.sample(putCase, { seed: SEED + 4, numRuns: PUT_CASES }).entries()) {
      if (i % 50 === 0) await fresh(); // some cases complete it
      const url = `/v1/experiments/${target}/activations/${c.network}/${c.checkpoint}/${c.layer}`;
      const res = await t.app.inject({
        method: 'PUT',
        url,
        headers: { authorization: `Bearer ${t.key}`, 'content-type': c.contentType },
        payload: c.body,
      });
      putStatuses.add(res.statusCode);
      record(res, () => `PUT ${url} ${c.contentType} ${c.body.subarray(0, 40).toString('hex')}`, 'PUT');
      if (c.next !== 'nothing') {
        const next = await t.app.inject({
          method: c.next === 'complete' ? 'POST' : 'GET',
          url: `/v1/experiments/${target}/${c.next === 'complete' ? 'complete' : 'uploads'}`,
          headers: { authorization: `Bearer ${t.key}` },
        });
        record(next, () => `${c.next} after ${url}`, c.next === 'complete' ? 'POST' : 'GET');
      }
    }
    await t.db.experiment.deleteMany({ where: { id: target } });
    await t.queue.obliterate({ force: true });
    // the upload runs of the declarations made here
    await t.db.run.deleteMany({
      where: { createdAt: { gte: started }, referenceOf: { none: {} }, specimenOf: { none: {} } },
    });
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
    for (const s of [201, 404, 422]) assert.ok(putStatuses.has(s), `some uploads answered ${s}`);
  });

  it(`answers ${SHARE_CASES} share-token requests without a 5xx; a token never writes`, async () => {
    const mint = async (experiment: string) => {
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/experiments/${experiment}/shares`,
        headers: { authorization: `Bearer ${t.key}` },
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as { id: string; token: string };
    };
    const share = await mint(expId);
    const revoked = await mint(expId);
    await t.app.inject({
      method: 'DELETE',
      url: `/v1/experiments/${expId}/shares/${revoked.id}`,
      headers: { authorization: `Bearer ${t.key}` },
    });
    const other = await seedExperiment(t);
    const otherShare = await mint(other.id);
    const before = await sideEffects();
    let read = 0;
    for (const c of fc.sample(shareCase, { seed: SEED + 5, numRuns: SHARE_CASES })) {
      const query = [
        c.share
          .replaceAll('TOKEN', share.token)
          .replaceAll('OTHER', otherShare.token)
          .replaceAll('REVOKED', revoked.token),
        ...c.extra.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
      ];
      const url = `/v1/experiments/${expId}${c.route.replace('SHARE', share.id)}?${query.join('&')}`;
      // a key only for reads (a keyed write would really delete or revoke)
      const keyed = c.withKey && (c.method === 'GET' || c.method === 'HEAD');
      const res = await t.app.inject({
        method: c.method as 'GET',
        url,
        headers: keyed ? { authorization: `Bearer ${t.key}` } : {},
      });
      record(res, () => `${c.method} ${url.slice(0, 300)}`, c.method);
      if (!keyed && !['GET', 'HEAD'].includes(c.method) && res.statusCode !== 404 && res.statusCode !== 401)
        failures.push(`a share token got ${res.statusCode} on ${c.method} ${url.slice(0, 200)}`);
      if (res.statusCode === 200 && !keyed) read++;
    }
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
    assert.ok(read > 0, 'some share-token reads succeeded');
    assert.deepEqual(await sideEffects(), before);
    const live = await t.db.share.findUniqueOrThrow({ where: { id: share.id } });
    assert.equal(live.revokedAt, null, 'the share link was not revoked by anyone without a key');
    await other.cleanup();
  });
});
