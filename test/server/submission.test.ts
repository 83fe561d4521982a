// Submission without side effects and the service's rules over HTTP: POST /v1/experiments?dryRun=true
// answers what a real POST would (spec, estimate, warnings, errors) and stores and queues nothing;
// GET /v1/presets and GET /v1/meta serve the server's own lists; a preset with another data set, a
// missing CIFAR-10 archive and schema mistakes are refused naming the property. In-process app on the
// real Postgres/Redis, no worker.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_FRACTIONS } from '../../core/figures/heatmaps.ts';
import { SLICE_MEASURES } from '../../core/slice.ts';
import { EXPERIMENT_STATUSES, STATUS_PHASES, TERMINAL_STATUSES } from '../../core/status.ts';
import { createKey, hashSecret } from '../../store/auth.ts';
import { seedExperiment, startApp, type TestApp } from '../helpers/app.ts';
import { tinySpec, uploadSpec } from '../helpers/spec.ts';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('dry runs, presets, meta and submission checks', () => {
  let t: TestApp;
  let member: string;
  let emptyDir: string;

  before(async () => {
    t = await startApp({ MAX_ACTIVE_EXPERIMENTS: '100', RATE_LIMIT_MAX: '100000' });
    const team = await t.db.team.findUniqueOrThrow({ where: { id: t.teamId } });
    ({ key: member } = await createKey(t.db, team.name, { role: 'member' }));
    emptyDir = await mkdtemp(join(tmpdir(), 'repdyn-no-datasets-'));
  });
  after(async () => {
    await t?.close();
    if (emptyDir) await rm(emptyDir, { recursive: true, force: true });
  });

  const post = (body: unknown, query = '', key = t.key, app = t) =>
    app.app.inject({
      method: 'POST',
      url: `/v1/experiments${query}`,
      headers: bearer(key),
      payload: body as object,
    });
  const stored = (teamId = t.teamId) => t.db.experiment.count({ where: { teamId } });

  it('a dry run answers the normalised spec, the estimate and the warnings of a real POST, and keeps nothing', async () => {
    // 256 probe examples under a 784-wide input: a few-samples warning at submission
    const spec = tinySpec({ name: 'dry' });
    const jobsBefore = await t.queue.getJobCounts();
    const dry = await post(spec, '?dryRun=true');
    assert.equal(dry.statusCode, 200, dry.body);
    const body = dry.json();
    assert.equal(body.dryRun, true);
    assert.equal(await stored(), 0, 'nothing stored');
    assert.deepEqual(await t.queue.getJobCounts(), jobsBefore, 'nothing queued');
    // normalised: epochs became steps (1 epoch of 512 examples in batches of 64), schedule explicit
    assert.equal(body.spec.reference.training.steps, 8);
    assert.equal(body.spec.reference.checkpoints.steps.length, 4);
    assert.deepEqual(
      body.spec.networks.reference.layers.map((l: { name: string }) => l.name),
      ['input', 'fc1', 'fc2', 'logits'],
    );
    assert.ok(
      body.warnings.some((w: { code: string }) => w.code === 'few-samples'),
      dry.body,
    );

    const real = await post(spec);
    assert.equal(real.statusCode, 202, real.body);
    assert.deepEqual(body.estimate, real.json().estimate, 'the estimate a real submission carries');
    assert.deepEqual(body.warnings, real.json().warnings, 'the warnings a real submission gets');
    assert.equal(await stored(), 1);
  });

  it('a dry run refuses what a real POST refuses, with the same status and code', async () => {
    const cases: unknown[] = [
      { ...tinySpec(), name: undefined },
      tinySpec({ probe: { examples: 20000 } }),
      tinySpec({ reference: { dataset: 'mnist', architecture: { type: 'mlp', hidden: [8000, 8000] } } }),
      { ...uploadSpec(), samples: 0 },
    ];
    const before = await stored();
    for (const body of cases) {
      const dry = await post(body, '?dryRun=true');
      const real = await post(body);
      assert.ok(dry.statusCode >= 400, dry.body);
      assert.equal(dry.statusCode, real.statusCode, `${dry.body} vs ${real.body}`);
      assert.equal(dry.json().code, real.json().code);
      assert.equal(dry.json().message, real.json().message);
    }
    assert.equal(await stored(), before, 'nothing stored');
  });

  it('a dry run of an upload spec answers its estimate; members may dry-run, share tokens may not', async () => {
    const before = await stored();
    const dry = await post(uploadSpec(), '?dryRun=true', member);
    assert.equal(dry.statusCode, 200, dry.body);
    assert.equal(dry.json().estimate.cells, 2 * 2 * 2);
    assert.equal(dry.json().estimate.representations, 2 * 2);
    assert.deepEqual(dry.json().spec.layers, { reference: ['fc1', 'fc2'], specimen: ['fc1', 'fc2'] });
    const exp = await seedExperiment(t);
    const token = 'not-a-key';
    await t.db.share.create({
      data: {
        experimentId: exp.id,
        tokenHash: new Uint8Array(hashSecret(token)),
      },
    });
    const shared = await t.app.inject({
      method: 'POST',
      url: `/v1/experiments?dryRun=true&share=${token}`,
      payload: tinySpec(),
    });
    assert.equal(shared.statusCode, 401, shared.body);
    await exp.cleanup();
    assert.equal(await stored(), before, 'nothing stored');
  });

  it('GET /v1/presets lists each preset with its layers, defaults and a valid example', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/presets', headers: bearer(member) });
    assert.equal(res.statusCode, 200, res.body);
    const presets = res.json().presets as Array<{
      name: string;
      dataset: string;
      layers: Array<{ name: string; kind: string; features: number }>;
      defaults: {
        training: { batchSize: number };
        checkpoints: { count: number };
        probe: { examples: number };
      };
      example: Record<string, unknown>;
    }>;
    assert.deepEqual(
      presets.map((p) => [p.name, p.dataset]),
      [
        ['mnist-fc', 'mnist'],
        ['cifar10-conv', 'cifar10'],
      ],
    );
    const mnist = presets[0];
    assert.deepEqual(
      mnist.layers.map((l) => [l.name, l.kind, l.features]),
      [
        ['input', 'input', 784],
        ['fc1', 'dense', 500],
        ['fc2', 'dense', 500],
        ['fc3', 'dense', 500],
        ['logits', 'logits', 10],
      ],
    );
    assert.equal(mnist.defaults.training.batchSize, 128);
    assert.equal(mnist.defaults.checkpoints.count, 20);
    assert.equal(mnist.defaults.probe.examples, 10000);
    assert.deepEqual(presets[1].layers[1], { name: 'conv1', kind: 'conv', features: 32 * 32 * 32 });
    for (const p of presets) {
      const dry = await post(p.example, '?dryRun=true');
      assert.equal(dry.statusCode, 200, `${p.name}: ${dry.body}`);
    }
    const anonymous = await t.app.inject({ method: 'GET', url: '/v1/presets' });
    assert.equal(anonymous.statusCode, 401);
  });

  it('GET /v1/meta serves the server-side lists', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/meta', headers: bearer(t.key) });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      statuses: [...EXPERIMENT_STATUSES],
      terminalStatuses: [...TERMINAL_STATUSES],
      phases: { ...STATUS_PHASES },
      figureFractions: [...DEFAULT_FRACTIONS],
      measures: [...SLICE_MEASURES],
    });
    assert.ok(res.json().statuses.includes('awaiting_representations'));
    assert.deepEqual(Object.keys(res.json().phases), [...EXPERIMENT_STATUSES], 'a phase for every status');
    assert.match(res.json().phases.capturing, /random baseline/);
    const anonymous = await t.app.inject({ method: 'GET', url: '/v1/meta' });
    assert.equal(anonymous.statusCode, 401);
  });

  it('the analysis answer names the default crawl layer', async () => {
    const exp = await seedExperiment(t);
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/experiments/${exp.id}/analysis`,
      headers: bearer(t.key),
    });
    assert.equal(res.statusCode, 200, res.body);
    // seeded layers input, fc1, fc2, logits: the last below logits
    assert.equal(res.json().defaultTopLayer, 'fc2');
    assert.equal(res.json().crawl.layer, 'fc2');
    await exp.cleanup();
  });

  it('a preset with another data set is a 400 naming both fields', async () => {
    const spec = tinySpec({
      reference: { dataset: 'mnist', architecture: { preset: 'cifar10-conv' }, training: { steps: 10 } },
    });
    for (const query of ['', '?dryRun=true']) {
      const res = await post(spec, query);
      assert.equal(res.statusCode, 400, res.body);
      const err = res.json();
      assert.equal(err.code, 'PRESET_DATASET_CONFLICT');
      assert.match(
        err.message,
        /^reference\.dataset: "mnist" conflicts with architecture\.preset "cifar10-conv"/,
      );
      assert.deepEqual(err.details.fields, ['reference.dataset', 'reference.architecture.preset']);
    }
  });

  it('a CIFAR-10 spec without the archive is a 422 DATASET_UNAVAILABLE before anything is stored or queued', async () => {
    const bare = await startApp({ SHARED_DIR: emptyDir, ARTIFACT_DIR: emptyDir, CIFAR_DIR: '' });
    try {
      const spec = tinySpec({
        reference: { dataset: 'cifar10', architecture: { preset: 'cifar10-conv' }, training: { steps: 10 } },
        probe: { examples: 500 },
      });
      const jobsBefore = await bare.queue.getJobCounts();
      for (const query of ['', '?dryRun=true']) {
        const res = await post(spec, query, bare.key, bare);
        assert.equal(res.statusCode, 422, res.body);
        const err = res.json();
        assert.equal(err.code, 'DATASET_UNAVAILABLE');
        assert.match(err.message, /CIFAR_DIR/);
        assert.match(err.message, /SHARED_DIR/);
        assert.ok(err.message.includes(join(emptyDir, 'datasets', 'cifar-10-jpg.tar.gz')), err.message);
        assert.deepEqual(err.details.env, ['CIFAR_DIR', 'SHARED_DIR']);
        assert.ok(err.details.searched.length >= 2);
      }
      assert.equal(await bare.db.experiment.count({ where: { teamId: bare.teamId } }), 0, 'nothing stored');
      assert.deepEqual(await bare.queue.getJobCounts(), jobsBefore, 'nothing queued');
    } finally {
      await bare.close();
    }
  });

  it('schema mistakes name the property: unknown ones with a suggestion, enums with their values', async () => {
    const spec = tinySpec();
    const { training, ...reference } = spec.reference;
    const typo = await post({ ...spec, reference: { ...reference, trainig: training } });
    assert.equal(typo.statusCode, 400, typo.body);
    assert.equal(typo.json().code, 'INVALID_REQUEST');
    assert.equal(typo.json().message, 'body.reference.trainig: unknown property; did you mean "training"?');
    assert.equal(typo.json().details.field, 'body.reference.trainig');

    const far = await post({ ...spec, colour: 'red' });
    assert.match(far.json().message, /^body\.colour: unknown property; allowed: name, reference, specimen/);

    const uploadTypo = await post({ ...uploadSpec(), sampels: 8 });
    assert.equal(uploadTypo.statusCode, 400, uploadTypo.body);
    assert.match(uploadTypo.json().message, /^body\.sampels: unknown property; did you mean "samples"\?/);

    const status = await t.app.inject({
      method: 'GET',
      url: '/v1/experiments?status=bogus',
      headers: bearer(t.key),
    });
    assert.equal(status.statusCode, 400, status.body);
    assert.equal(
      status.json().message,
      `querystring.status: must be one of ${EXPERIMENT_STATUSES.join(', ')}`,
    );

    const seeded = await seedExperiment(t);
    const measure = await t.app.inject({
      method: 'GET',
      url: `/v1/experiments/${seeded.id}/tensor?measure=nope`,
      headers: bearer(t.key),
    });
    assert.equal(measure.json().message, `querystring.measure: must be one of ${SLICE_MEASURES.join(', ')}`);
    await seeded.cleanup();

    // a union of a literal and an object: both alternatives in words; the object's own mistake
    const other = await post(tinySpec({ specimen: 'other' }));
    assert.equal(other.json().message, 'body.specimen: must be "same" or an object');
    const specimen = await post(tinySpec({ specimen: { ...spec.reference, epochz: 1 } }));
    assert.equal(specimen.statusCode, 400, specimen.body);
    assert.match(specimen.json().message, /^body\.specimen\.epochz: unknown property/);
  });
});
