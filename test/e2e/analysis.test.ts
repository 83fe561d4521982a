// Issue 13's acceptance, through the real API and worker processes:
// 1. Null experiments do not produce findings: ten bring-your-own-activations experiments of
//    independent Gaussian data with the widths of mnist-fc (input 784, fc1-fc3 500, logits 10),
//    5 checkpoints, n = 2500, different seeds, give no 'bottom-up' and no 'crawl' verdict.
// 2. The README's tiny example (256 probe examples, a 784-wide input) warns at submission and in
//    GET /v1/experiments/ID, and its crawl answers 'inconclusive' with a few-samples reason naming
//    the input.
// The verdicts are printed (one JSON line per experiment) for the record.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gaussianMatrix } from '../../core/analysis/baseline.ts';
import { encodeNpy } from '../../core/npy.ts';
import { waitFor } from '../helpers/env.ts';
import {
  type Analysis,
  type Experiment,
  readJson,
  type SliceOf,
  type Submitted,
  type UploadCreated,
} from '../helpers/json.ts';
import { type Service, startService, tinySpec } from '../helpers/service.ts';

const WIDTHS: Record<string, number> = { input: 784, fc1: 500, fc2: 500, fc3: 500, logits: 10 };
const LAYERS = Object.keys(WIDTHS);
const SAMPLES = 2500;
const STEPS = [0, 10, 100, 1000, 10000];
const EXPERIMENTS = 10;

describe('analysis verdicts on evidence (issue 13 acceptance)', () => {
  let svc: Service;

  before(async () => {
    svc = await startService();
  });

  after(async () => {
    await svc?.stop();
  });

  async function finished(id: string, timeoutMs: number) {
    const body = await waitFor(
      async () => {
        const b = await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`));
        return ['succeeded', 'failed', 'canceled'].includes(b.status) ? b : undefined;
      },
      { timeoutMs, intervalMs: 250, what: `experiment ${id} to finish` },
    );
    assert.equal(body.status, 'succeeded', `${JSON.stringify(body.error)}\n${svc.output()}`);
    return body;
  }

  async function analysis(id: string) {
    const res = await svc.request(`/v1/experiments/${id}/analysis`);
    const body = await readJson<Analysis>(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    return body;
  }

  it('ten experiments of independent Gaussian data give no bottom-up and no crawl verdict', async () => {
    const ids: string[] = [];
    for (let seed = 0; seed < EXPERIMENTS; seed++) {
      const res = await svc.request('/v1/experiments', {
        method: 'POST',
        body: JSON.stringify({
          name: `null ${seed}`,
          source: 'upload',
          samples: SAMPLES,
          reference: { layers: LAYERS },
          specimen: 'same',
          checkpoints: STEPS.map((step) => ({ step })),
          similarity: { methods: ['cca'] },
        }),
      });
      const created = await readJson<UploadCreated>(res);
      assert.equal(res.status, 201, JSON.stringify(created));
      assert.deepEqual(created.warnings, [], 'widths are not known before the arrays arrive');
      for (const [t] of STEPS.entries()) {
        for (const [l, layer] of LAYERS.entries()) {
          const m = gaussianMatrix(SAMPLES, WIDTHS[layer]!, 1_000_003 * seed + 1009 * t + l);
          const put = await svc.request(`/v1/experiments/${created.id}/activations/specimen/${t}/${layer}`, {
            method: 'PUT',
            body: encodeNpy(Float32Array.from(m.data), [SAMPLES, m.cols]) as unknown as RequestInit['body'],
            headers: { 'content-type': 'application/octet-stream' },
          });
          assert.equal(put.status, 201, await put.text());
        }
      }
      const done = await svc.request(`/v1/experiments/${created.id}/complete`, { method: 'POST' });
      const queued = await readJson<Experiment>(done);
      assert.equal(done.status, 202, JSON.stringify(queued));
      // the widths are known now: 2500 samples for a 784-wide input and 500-wide layers
      assert.ok(
        queued.warnings.some(
          (w: { code: string; layer?: string }) => w.code === 'few-samples' && w.layer === 'input',
        ),
      );
      ids.push(created.id);
    }
    const verdicts = [];
    for (const [seed, id] of ids.entries()) {
      const e = await finished(id, 600_000);
      assert.ok(e.warnings.some((w: { code: string }) => w.code === 'few-samples'));
      const a = await analysis(id);
      const record = {
        seed,
        convergence: a.convergence.verdict,
        convergenceReason: a.convergence.reason,
        crawl: a.crawl.verdict,
        crawlReason: a.crawl.reason,
        score: a.crawl.score,
        crawlSteps: a.crawl.steps.map((s) => [s.fraction, s.mostSimilar, s.decision]),
      };
      console.log(JSON.stringify(record));
      verdicts.push(record);
      // each cell has its permutation null and adjusted score, sliceable like rho
      const adjusted = await readJson<SliceOf<2>>(
        await svc.request(`/v1/experiments/${id}/tensor?measure=rho_adjusted&checkpoint=0`),
      );
      const nulls = await readJson<SliceOf<2>>(
        await svc.request(`/v1/experiments/${id}/tensor?measure=rho_null&checkpoint=0`),
      );
      assert.deepEqual(adjusted.shape, [5, 5]);
      for (const row of adjusted.values as number[][])
        for (const v of row) assert.ok(Math.abs(v) < 0.05, `adjusted ${v}`);
      for (const row of nulls.values as number[][])
        for (const v of row) assert.ok(v > 0 && v < 1, `null ${v}`);
      assert.equal((await svc.request(`/v1/experiments/${id}`, { method: 'DELETE' })).status, 204);
    }
    assert.equal(verdicts.length, EXPERIMENTS);
    for (const v of verdicts) {
      assert.notEqual(v.convergence, 'bottom-up', JSON.stringify(v));
      assert.notEqual(v.crawl, 'crawl', JSON.stringify(v));
    }
  });

  it("the README's tiny example warns about its 784-wide input and its crawl is inconclusive, naming it", async () => {
    const res = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify(tinySpec({ name: 'analysis tiny' })),
    });
    const sub = await readJson<Submitted>(res);
    assert.equal(res.status, 202, JSON.stringify(sub));
    // known before the run: 256 samples for 784 input features
    const early = sub.warnings.find(
      (w: { code: string; layer?: string }) => w.code === 'few-samples' && w.layer === 'input',
    );
    assert.ok(early, JSON.stringify(sub.warnings));
    assert.match(early.message, /784 features and 256 samples/);
    const e = await finished(sub.id, 300_000);
    assert.ok(
      e.warnings.some(
        (w: { code: string; layer?: string }) => w.code === 'few-samples' && w.layer === 'input',
      ),
      JSON.stringify(e.warnings),
    );
    assert.ok(
      e.warnings.some((w: { code: string }) => w.code === 'null-near-one'),
      JSON.stringify(e.warnings),
    );
    const a = await analysis(sub.id);
    console.log(
      JSON.stringify({
        tiny: true,
        convergence: a.convergence.verdict,
        convergenceReason: a.convergence.reason,
        crawl: a.crawl.verdict,
        crawlReason: a.crawl.reason,
        crawlSteps: a.crawl.steps.map((s) => [s.fraction, s.mostSimilar, s.decision]),
      }),
    );
    assert.equal(a.crawl.verdict, 'inconclusive');
    assert.match(a.crawl.reason ?? '', /^few-samples: input has 784 features and 256 samples/);
    assert.ok(
      a.crawl.excluded.some(
        (x: { code: string; layer?: string }) => x.code === 'few-samples' && x.layer === 'input',
      ),
    );
    assert.ok(a.crawl.steps.every((s: { mostSimilar: string | null }) => s.mostSimilar !== 'input'));
    assert.ok(a.warnings.length > 0);
  });
});
