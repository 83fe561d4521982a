// The user's main path over HTTP with the real API process, a real worker process, Postgres and
// Redis: submit → queued → training → capturing → computing → succeeded; SSE; slices; cancel;
// bad specs; keys and teams; idempotency.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/env.ts';
import {
  type ErrorBody,
  type ErrorWith,
  type Experiment,
  type ExperimentPage,
  readJson,
  type SliceOf,
  type Submitted,
} from '../helpers/json.ts';
import { type Service, startService, tinySpec } from '../helpers/service.ts';

const PHASES = ['queued', 'training', 'capturing', 'computing', 'succeeded'];

interface Progress {
  status: string;
  fraction: number;
}

async function submit(svc: Service, body: unknown, headers: Record<string, string> = {}) {
  return svc.request('/v1/experiments', { method: 'POST', body: JSON.stringify(body), headers });
}

/** Reads an SSE stream to its end, returning the parsed `progress` events and whether `end` came. */
async function readEvents(res: Response): Promise<{ events: Progress[]; ended: boolean }> {
  const text = await res.text();
  const events: Progress[] = [];
  let ended = false;
  for (const block of text.split('\n\n')) {
    const event = /^event: (\w+)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (event === 'progress' && data) events.push(JSON.parse(data));
    if (event === 'end') ended = true;
  }
  return { events, ended };
}

function assertInOrder(statuses: string[]) {
  let last = -1;
  for (const s of statuses) {
    const i = PHASES.indexOf(s);
    assert.ok(i >= last, `phase ${s} came after ${PHASES[last]}: ${statuses.join(' → ')}`);
    last = i;
  }
}

describe('experiments end to end', () => {
  let svc: Service;

  before(async () => {
    svc = await startService();
  });

  after(async () => {
    await svc?.stop();
  });

  it('runs the example body to succeeded with a correct tensor; polling and SSE agree', async () => {
    const res = await submit(svc, tinySpec());
    assert.equal(res.status, 202, await res.clone().text());
    const { id, links } = await readJson<Submitted>(res);
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(links.self, `/v1/experiments/${id}`);

    const sse = svc.request(`/v1/experiments/${id}/events`).then(readEvents);
    const polled: Progress[] = [];
    const final = await waitFor(
      async () => {
        const body = await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`));
        polled.push({ status: body.status, fraction: body.progress.fraction });
        return ['succeeded', 'failed', 'canceled'].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: 'experiment to finish' },
    );
    assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
    // the JSON contracts as stored, none of their fields dropped by the response schema
    const stored = await svc.db.experiment.findUniqueOrThrow({
      where: { id },
      select: { spec: true, estimate: true, summary: true },
    });
    assert.deepEqual({ spec: final.spec, estimate: final.estimate, summary: final.summary }, stored);
    assert.equal(final.summary?.layers.length, 4, 'the summary has each layer');
    assertInOrder(polled.map((p) => p.status));
    for (let i = 1; i < polled.length; i++) {
      assert.ok(polled[i].fraction >= polled[i - 1].fraction, 'fraction never decreases');
    }
    for (const t of ['trainingAt', 'capturingAt', 'computingAt', 'finishedAt'] as const)
      assert.ok(final.timings[t], t);
    assert.deepEqual(final.layers.reference, ['input', 'fc1', 'fc2', 'logits']);
    assert.equal(final.checkpoints.length, 4);
    assert.equal(final.checkpoints[0].step, 0);
    assert.equal(final.checkpoints[3].fraction, 1);

    const { events, ended } = await sse;
    assert.ok(ended, 'SSE stream ends at the terminal state');
    assert.equal(events.at(-1)?.status, 'succeeded');
    assertInOrder(events.map((e) => e.status));
    for (let i = 1; i < events.length; i++) assert.ok(events[i].fraction >= events[i - 1].fraction);

    const L = final.layers.reference.length;
    const N = final.checkpoints.length;
    assert.equal(await svc.db.cell.count({ where: { experimentId: id } }), L * L * N);
    for (let t = 0; t < N; t++) {
      const slice = await readJson<SliceOf<2>>(
        await svc.request(`/v1/experiments/${id}/tensor?measure=rho&checkpoint=${t}`),
      );
      assert.deepEqual(slice.shape, [L, L]);
      assert.deepEqual(slice.axes, ['refLayer', 'specLayer']);
      assert.deepEqual(slice.labels.refLayer, final.layers.reference);
      assert.ok(
        Math.abs((slice.values[0][0] ?? Number.NaN) - 1) < 1e-6,
        `rho(input, input) at checkpoint ${t}`,
      );
      if (t === N - 1) {
        for (let l = 0; l < L; l++)
          assert.ok(
            Math.abs((slice.values[l][l] ?? Number.NaN) - 1) < 1e-6,
            `rho(layer ${l}, itself) at the end`,
          );
      }
    }
  });

  it('cancels during training within 10 s and then takes the next job', async () => {
    const long = tinySpec({
      name: 'long',
      reference: {
        dataset: 'mnist',
        architecture: { type: 'mlp', hidden: [256, 256] },
        training: { epochs: 20, batchSize: 32, trainExamples: 20000, seed: 3 },
        checkpoints: { count: 5 },
      },
    });
    const { id } = await readJson<Submitted>(await submit(svc, long));
    await waitFor(
      async () =>
        (await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`))).status === 'training',
      {
        timeoutMs: 60_000,
        what: 'training',
      },
    );
    const t0 = Date.now();
    const cancel = await svc.request(`/v1/experiments/${id}/cancel`, { method: 'POST' });
    assert.equal(cancel.status, 202);
    await waitFor(
      async () =>
        (await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`))).status === 'canceled',
      {
        timeoutMs: 10_000,
        what: 'canceled within 10 s',
      },
    );
    assert.ok(Date.now() - t0 < 10_000);
    const again = await svc.request(`/v1/experiments/${id}/cancel`, { method: 'POST' });
    assert.equal(again.status, 409);
    assert.equal((await readJson<ErrorBody>(again)).code, 'EXPERIMENT_FINISHED');

    const next = await readJson<Submitted>(await submit(svc, tinySpec({ name: 'after-cancel' })));
    const done = await waitFor(
      async () => {
        const b = await readJson<Experiment>(await svc.request(`/v1/experiments/${next.id}`));
        return ['succeeded', 'failed', 'canceled'].includes(b.status) ? b : undefined;
      },
      { timeoutMs: 120_000, what: 'next job' },
    );
    assert.equal(done.status, 'succeeded');
    // same run definition as the first test's experiment: its finished run is reused, not retrained
    assert.equal(done.summary?.reusedRuns, 1);
  });

  it('refuses bad and oversized specs with codes and queues nothing', async () => {
    const before = await svc.db.experiment.count({ where: { teamId: svc.teamId } });
    const countsBefore = await svc.queue.getJobCounts();
    const cases: Array<[unknown, number, string, RegExp?]> = [
      [{ ...tinySpec(), name: undefined }, 400, 'INVALID_REQUEST', /name/],
      [tinySpec({ specimen: 'other' }), 400, 'INVALID_REQUEST', /specimen/],
      [tinySpec({ probe: { examples: 0 } }), 400, 'INVALID_REQUEST', /probe/],
      [tinySpec({ probe: { examples: 20000 } }), 400, 'INVALID_SPEC', /probe\.examples/],
      [tinySpec({ similarity: { methods: ['nope'] } }), 400, 'INVALID_REQUEST', /similarity/],
      [
        tinySpec({ reference: { ...tinySpec().reference, training: { epochs: 1, steps: 5 } } }),
        400,
        'INVALID_SPEC',
        /training/,
      ],
      [
        tinySpec({ reference: { dataset: 'mnist', architecture: { type: 'mlp', hidden: [8000, 8000] } } }),
        422,
        'LIMIT_REPRESENTATION_FEATURES',
      ],
      [
        tinySpec({
          reference: { ...tinySpec().reference, checkpoints: { count: 200 }, training: { steps: 1000 } },
          probe: { examples: 10000 },
        }),
        422,
        'LIMIT_CHECKPOINTS',
      ],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await submit(svc, body);
      const err = await readJson<ErrorWith<{ estimate: unknown; violations: Array<{ limit: number }> }>>(res);
      assert.equal(res.status, status, JSON.stringify(err));
      assert.equal(err.code, code, JSON.stringify(err));
      assert.equal(err.statusCode, status);
      if (field) assert.match(err.message, field);
      if (status === 422) {
        assert.ok(err.details.estimate, 'a 422 carries the estimate');
        assert.ok(err.details.violations[0].limit > 0, 'and the limit');
      }
    }
    const notJson = await svc.request('/v1/experiments', { method: 'POST', body: '{"name": ', headers: {} });
    assert.equal(notJson.status, 400);
    const huge = await submit(svc, { ...tinySpec(), name: 'x'.repeat(100_000) });
    assert.equal(huge.status, 413);
    assert.equal((await readJson<ErrorBody>(huge)).code, 'BODY_TOO_LARGE');
    assert.equal(await svc.db.experiment.count({ where: { teamId: svc.teamId } }), before, 'no rows created');
    assert.deepEqual(await svc.queue.getJobCounts(), countsBefore, 'nothing queued');
  });

  it('requires a valid key and hides other teams’ experiments', async () => {
    const missing = await svc.request('/v1/experiments', { key: null });
    assert.equal(missing.status, 401);
    assert.equal((await readJson<ErrorBody>(missing)).code, 'MISSING_API_KEY');
    const wrong = await svc.request('/v1/experiments', { key: 'rdk_000000000000_notarealkeynotarealkey' });
    assert.equal(wrong.status, 401);
    assert.equal((await readJson<ErrorBody>(wrong)).code, 'INVALID_API_KEY');

    const mine = await readJson<ExperimentPage>(await svc.request('/v1/experiments'));
    assert.ok(mine.items.length > 0);
    const other = await svc.newTeam();
    const id = mine.items[0].id;
    for (const [method, path] of [
      ['GET', `/v1/experiments/${id}`],
      ['GET', `/v1/experiments/${id}/tensor?measure=rho&checkpoint=0`],
      ['GET', `/v1/experiments/${id}/events`],
      ['POST', `/v1/experiments/${id}/cancel`],
      ['DELETE', `/v1/experiments/${id}`],
    ]) {
      const res = await svc.request(path, { method, key: other.key });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal((await readJson<ErrorBody>(res)).code, 'EXPERIMENT_NOT_FOUND');
    }
    const theirs = await readJson<ExperimentPage>(await svc.request('/v1/experiments', { key: other.key }));
    assert.equal(theirs.items.length, 0);
  });

  it('honours Idempotency-Key and pages the list', async () => {
    const key = `idem-${Date.now()}`;
    const body = tinySpec({ name: 'idem' });
    const a = await submit(svc, body, { 'idempotency-key': key });
    const b = await submit(svc, body, { 'idempotency-key': key });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.equal((await readJson<Submitted>(a)).id, (await readJson<Submitted>(b)).id);
    const c = await submit(svc, { ...body, name: 'different' }, { 'idempotency-key': key });
    assert.equal(c.status, 409);
    assert.equal((await readJson<ErrorBody>(c)).code, 'IDEMPOTENCY_KEY_REUSED');

    const page1 = await readJson<ExperimentPage>(await svc.request('/v1/experiments?limit=2'));
    assert.equal(page1.items.length, 2);
    assert.ok(page1.nextCursor);
    const page2 = await readJson<ExperimentPage>(
      await svc.request(`/v1/experiments?limit=2&cursor=${page1.nextCursor}`),
    );
    assert.ok(page2.items.length >= 1);
    assert.ok(
      !page2.items.some((x: { id: string }) => page1.items.some((y: { id: string }) => y.id === x.id)),
    );
    const canceled = await readJson<ExperimentPage>(await svc.request('/v1/experiments?status=canceled'));
    assert.ok(canceled.items.every((x: { status: string }) => x.status === 'canceled'));

    const del = await svc.request(`/v1/experiments/${page1.items[0].id}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal((await svc.request(`/v1/experiments/${page1.items[0].id}`)).status, 404);
  });
});
