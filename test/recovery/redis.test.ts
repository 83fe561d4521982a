// Redis is only the carrier of work: flushed mid-run, the reconciler re-enqueues from Postgres every
// non-terminal experiment (one running, one queued whose job vanished) and each succeeds exactly once;
// stopped, the API refuses new submissions at once with 503 QUEUE_UNAVAILABLE and stores nothing;
// restarted, API and worker carry on without a restart of their own. Uses a private redis-server.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { freePort, startRedis, stopProcess, waitFor } from '../helpers/env.ts';
import { type ErrorBody, readJson } from '../helpers/json.ts';
import { type Service, startService } from '../helpers/service.ts';
import { atMoment, FAST_RECOVERY, finished, smallSpec, submit } from './helpers.ts';

describe('Redis flushed, stopped and restarted', () => {
  let svc: Service;
  let redis: ChildProcess;
  let port: number;

  before(async () => {
    port = await freePort();
    redis = await startRedis(port);
    svc = await startService({
      env: { ...FAST_RECOVERY, REDIS_URL: `redis://127.0.0.1:${port}` },
    });
  });

  after(async () => {
    if (redis.exitCode !== null || redis.signalCode !== null) redis = await startRedis(port);
    await svc?.stop();
    await stopProcess(redis);
  });

  it('FLUSHALL mid-run: every non-terminal experiment is re-enqueued and succeeds exactly once', async () => {
    const running = await submit(svc, smallSpec('flush-running', { trainExamples: 512, seed: 21 }, 4));
    const queued = await submit(svc, smallSpec('flush-queued', { trainExamples: 512, seed: 22 }, 4));
    const admin = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      await atMoment(
        svc.workers[0]!,
        async () => {
          const rows = await svc.db.experiment.findMany({ where: { id: { in: [running, queued] } } });
          const status = new Map(rows.map((r) => [r.id, r.status]));
          return status.get(running) !== 'queued' && status.get(queued) === 'queued';
        },
        async () => {
          assert.equal(await admin.flushall(), 'OK');
        },
        'one experiment running and one queued',
      );
      assert.equal(await admin.dbsize(), 0);
    } finally {
      admin.disconnect();
    }
    for (const id of [running, queued]) {
      await finished(svc.db, id);
      assert.equal(await svc.db.cell.count({ where: { experimentId: id } }), 3 * 3 * 4);
      const successes = svc.output().split(`experiment ${id}: succeeded`).length - 1;
      assert.equal(successes, 1, `experiment ${id} succeeded ${successes} times`);
    }
    assert.match(svc.output(), /reconciler re-enqueued/);
  });

  it('stopped: 503 QUEUE_UNAVAILABLE at once and nothing stored; restarted: back without restarts', async () => {
    await stopProcess(redis, 'SIGKILL');
    const before = await svc.db.experiment.count({ where: { teamId: svc.teamId } });
    const started = Date.now();
    const res = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify(smallSpec('while-redis-away', { seed: 23 }, 4)),
    });
    const elapsed = Date.now() - started;
    assert.equal(res.status, 503, await res.clone().text());
    assert.equal((await readJson<ErrorBody>(res)).code, 'QUEUE_UNAVAILABLE');
    assert.ok(elapsed < 1_500, `answered in ${elapsed} ms`);
    assert.equal(await svc.db.experiment.count({ where: { teamId: svc.teamId } }), before, 'nothing stored');
    const ready = await svc.request('/ready');
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { code: string }).code, 'REDIS_UNAVAILABLE');
    assert.equal((await svc.request('/v1/experiments')).status, 200, 'reads need only Postgres');

    redis = await startRedis(port); // a fresh, empty Redis on the same port
    await waitFor(async () => (await svc.request('/ready')).status === 200, {
      timeoutMs: 20_000,
      what: 'the API to see Redis again',
    });
    const id = await submit(svc, smallSpec('after-redis-restart', { trainExamples: 512, seed: 24 }, 4));
    await finished(svc.db, id);
  });
});
