// Issue 14 item 3 (figures): a figure is sized before it is drawn (422 LIMIT_FIGURE_CELLS /
// LIMIT_FIGURE_BYTES), renders on a worker thread so the API keeps answering meanwhile, and is
// cached once drawn for a finished experiment.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { seedExperiment, startApp, type TestApp } from '../helpers/app.ts';
import { assertHealthy } from '../helpers/health.ts';
import { tinySpec } from '../helpers/service.ts';

/** A succeeded experiment of `layers` × `layers` layers and `checkpoints` checkpoints, every cell stored. */
async function bigExperiment(t: TestApp, layers: number, checkpoints: number, withCells = true) {
  const run = await t.db.run.create({
    data: {
      key: randomBytes(16).toString('hex'),
      spec: {},
      status: 'done',
      checkpoints: {
        create: Array.from({ length: checkpoints }, (_, i) => ({
          index: i,
          step: i * 10,
          fraction: i / (checkpoints - 1),
        })),
      },
    },
  });
  const names = Array.from({ length: layers }, (_, i) => `layer_${i}`);
  const exp = await t.db.experiment.create({
    data: {
      teamId: t.teamId,
      name: 'big',
      spec: tinySpec(),
      specHash: 'big',
      status: 'succeeded',
      finishedAt: new Date(),
      checkpointCount: checkpoints,
      referenceRunId: run.id,
      specimenRunId: run.id,
      layers: {
        create: (['reference', 'specimen'] as const).flatMap((network) =>
          names.map((name, index) => ({ network, index, name, kind: 'dense', features: 8, samples: 16 })),
        ),
      },
    },
  });
  const cells = [];
  for (let i = 0; i < layers; i++)
    for (let j = 0; j < layers; j++)
      for (let c = 0; c < checkpoints; c++) {
        const rho = ((i * 7 + j * 3 + c) % 100) / 100;
        cells.push({
          experimentId: exp.id,
          refLayer: i,
          specLayer: j,
          checkpoint: c,
          rho,
          mean: rho,
          svcca: rho,
          pwcca: rho,
          cka: rho,
          rankRef: 8,
          rankSpec: 8,
          coefficients: new Uint8Array(0),
        });
      }
  for (let k = 0; withCells && k < cells.length; k += 5000)
    await t.db.cell.createMany({ data: cells.slice(k, k + 5000) });
  return {
    id: exp.id,
    cleanup: async () => {
      await t.db.experiment.deleteMany({ where: { id: exp.id } });
      await t.db.run.deleteMany({ where: { id: run.id } });
    },
  };
}

describe('figure limits, worker threads and cache', () => {
  let t: TestApp;
  const get = (url: string) =>
    t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${t.key}` } });

  before(async () => {
    t = await startApp({ MAX_FIGURE_CELLS: '12000' });
  });
  after(async () => {
    await t?.close();
  });

  it('refuses a figure above MAX_FIGURE_CELLS before reading the tensor (422 with the limit)', async () => {
    const exp = await bigExperiment(t, 40, 12, false); // no cells: refused before reading any
    const fractions = Array.from({ length: 12 }, (_, i) => (i / 11).toFixed(3)).join(',');
    const res = await get(`/v1/experiments/${exp.id}/figures/heatmaps.svg?fractions=${fractions}`);
    assert.equal(res.statusCode, 422, res.body.slice(0, 300));
    const body = res.json();
    assert.equal(body.code, 'LIMIT_FIGURE_CELLS');
    assert.equal(body.details.limit, 12000);
    assert.equal(body.details.value, 40 * 40 * 12);
    await assertHealthy(t.app);
    await exp.cleanup();
  });

  it('renders off the event loop: /health answers quickly while a large figure renders', async () => {
    const exp = await bigExperiment(t, 50, 4); // 10,000 heatmap cells
    const url = `/v1/experiments/${exp.id}/figures/heatmaps.svg`;
    let done = false;
    const figure = get(url).finally(() => {
      done = true;
    });
    const probes: number[] = [];
    while (!done) {
      const started = performance.now();
      const res = await t.app.inject({ method: 'GET', url: '/health' });
      assert.equal(res.statusCode, 200);
      probes.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 5));
    }
    const res = await figure;
    assert.equal(res.statusCode, 200, res.body.slice(0, 300));
    assert.match(res.headers['content-type'] as string, /^image\/svg\+xml/);
    // most probes run while the render is in flight; rendering in place would block them all
    probes.sort((a, b) => a - b);
    const median = probes[Math.floor(probes.length / 2)]!;
    assert.ok(probes.length >= 5, `only ${probes.length} /health answers during the render`);
    assert.ok(median <= 100, `median /health during the render: ${median.toFixed(1)} ms`);

    // cached: the same figure again is the same document, even with the tensor gone
    await t.db.cell.deleteMany({ where: { experimentId: exp.id } });
    const again = await get(url);
    assert.equal(again.statusCode, 200);
    assert.equal(again.body, res.body);
    await assertHealthy(t.app);
    await exp.cleanup();
  });
});

describe('figure byte limit', () => {
  let t: TestApp;
  before(async () => {
    t = await startApp({ MAX_FIGURE_BYTES: '2048' });
  });
  after(async () => {
    await t?.close();
  });

  it('refuses an SVG above MAX_FIGURE_BYTES with 422 LIMIT_FIGURE_BYTES', async () => {
    const exp = await seedExperiment(t);
    const res = await t.app.inject({
      url: `/v1/experiments/${exp.id}/figures/convergence.svg`,
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(res.statusCode, 422, res.body.slice(0, 300));
    assert.equal(res.json().code, 'LIMIT_FIGURE_BYTES');
    assert.equal(res.json().details.limit, 2048);
    await exp.cleanup();
  });
});
