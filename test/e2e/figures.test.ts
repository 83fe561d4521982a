// Figures and analysis of a finished experiment over HTTP with the real API and worker processes:
// the three SVG figures, the analysis JSON, share-token access, and the error answers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashSecret } from '../../store/auth.ts';
import { svgTexts, xmlProblem } from '../core/figures/xml.ts';
import { waitFor } from '../helpers/env.ts';
import { type Analysis, type ErrorBody, type Experiment, readJson, type Submitted } from '../helpers/json.ts';
import { type Service, startService, tinySpec } from '../helpers/service.ts';

const LAYERS = ['input', 'fc1', 'fc2', 'logits'];

describe('figures and analysis end to end', () => {
  let svc: Service;

  before(async () => {
    svc = await startService();
  });

  after(async () => {
    await svc?.stop();
  });

  async function svgOf(path: string, init?: { key?: string | null }) {
    const res = await svc.request(path, init);
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.match(res.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    assert.equal(xmlProblem(body), null);
    return svgTexts(body);
  }

  async function errorOf(path: string, status: number, code: string, init?: { key?: string | null }) {
    const res = await svc.request(path, init);
    const body = await readJson<ErrorBody>(res);
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(body.code, code);
  }

  async function submit(): Promise<string> {
    const res = await svc.request('/v1/experiments', { method: 'POST', body: JSON.stringify(tinySpec()) });
    assert.equal(res.status, 202, await res.clone().text());
    return (await readJson<Submitted>(res)).id;
  }

  /** Waits for the experiment to succeed; its checkpoint fractions. */
  async function succeeded(id: string): Promise<number[]> {
    const final = await waitFor(
      async () => {
        const body = await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`));
        return ['succeeded', 'failed', 'canceled'].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'experiment to finish' },
    );
    assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
    assert.deepEqual(final.layers.specimen, LAYERS);
    return final.checkpoints.map((c: { fraction: number }) => c.fraction);
  }

  // A finished experiment for the tests that read one, made by whichever test asks first (each test
  // can run alone, in any order).
  let finished: Promise<{ id: string; fractions: number[] }> | undefined;
  function finishedExperiment() {
    finished ??= submit().then(async (id) => ({ id, fractions: await succeeded(id) }));
    return finished;
  }

  it('answers 409 EXPERIMENT_NOT_FINISHED until the experiment succeeded', async () => {
    const id = await submit();
    await errorOf(`/v1/experiments/${id}/figures/heatmaps.svg`, 409, 'EXPERIMENT_NOT_FINISHED');
    await errorOf(`/v1/experiments/${id}/analysis`, 409, 'EXPERIMENT_NOT_FINISHED');
    const fractions = await succeeded(id);
    finished ??= Promise.resolve({ id, fractions });
    const res = await svc.request(`/v1/experiments/${id}/analysis`);
    assert.equal(res.status, 200, await res.text());
  });

  it('renders the Figure 1 heatmaps at the nearest checkpoints', async () => {
    const { id } = await finishedExperiment();
    const texts = await svgOf(`/v1/experiments/${id}/figures/heatmaps.svg`);
    assert.ok(texts.includes('Layer-by-layer similarity (rho) during training'));
    for (const name of LAYERS) assert.ok(texts.includes(name), name);
    assert.ok(texts.some((t) => t.startsWith('0% of training')));
    // the last panel is the checkpoint before the end (step 7 of 8), never the final one itself
    assert.ok(texts.includes('88% of training (step 7 of 8)'), texts.join(' | '));
    assert.ok(!texts.some((t) => t.startsWith('100% of training')));
    // the tiny example's probe set (256) is too small for its 784-wide input: said under the figure
    assert.ok(
      texts.some((t) => t.startsWith('• few-samples:') && t.includes("'input'")),
      'warning',
    );
    assert.ok(texts.some((t) => t.includes('n = 256 samples per layer')));
    const two = await svgOf(`/v1/experiments/${id}/figures/heatmaps.svg?fractions=0,1`);
    assert.equal(two.filter((t) => t.includes('% of training (step')).length, 2);
    await errorOf(`/v1/experiments/${id}/figures/heatmaps.svg?fractions=0,2`, 400, 'INVALID_FRACTIONS');
    await errorOf(`/v1/experiments/${id}/figures/heatmaps.svg?fractions=a`, 400, 'INVALID_FRACTIONS');
  });

  it('renders Figure 2 (convergence) and Figure 3 (crawl)', async () => {
    const { id } = await finishedExperiment();
    const conv = await svgOf(`/v1/experiments/${id}/figures/convergence.svg`);
    assert.ok(conv.includes('Bottom-up convergence: each layer vs its own final version'));
    for (const name of [...LAYERS, 'fraction of training']) assert.ok(conv.includes(name), name);
    assert.ok(
      conv.some((t) => t.startsWith('baseline ')),
      'labelled baseline',
    );
    const crawl = await svgOf(`/v1/experiments/${id}/figures/crawl.svg`);
    assert.ok(crawl.includes('Top-down crawl: specimen layer fc2 vs every final layer'));
    for (const name of LAYERS) assert.ok(crawl.includes(name), name);
    const fc1 = await svgOf(`/v1/experiments/${id}/figures/crawl.svg?layer=fc1&scale=linear`);
    assert.ok(fc1.includes('Top-down crawl: specimen layer fc1 vs every final layer'));
    await errorOf(`/v1/experiments/${id}/figures/crawl.svg?layer=nope`, 400, 'UNKNOWN_LAYER');
  });

  it('returns the convergence and crawl analysis', async () => {
    const { id, fractions } = await finishedExperiment();
    const res = await svc.request(`/v1/experiments/${id}/analysis?threshold=0.8`);
    const body = await readJson<Analysis>(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.convergence.threshold, 0.8);
    assert.deepEqual(
      body.convergence.layers.map((l: { layer: string }) => l.layer),
      LAYERS,
    );
    // the input is its final self by construction: left out, with the reason
    assert.match(body.convergence.layers[0]?.excluded ?? '', /^input: /);
    assert.ok(body.convergence.excluded.some((e: { code: string }) => e.code === 'input'));
    // Net_S = Net_R: the final checkpoint is the reference itself and never counts as converging
    assert.ok(body.convergence.layers.every((l: { convergedAt: number | null }) => l.convergedAt !== 1));
    assert.equal(body.convergence.score, 'rho_adjusted');
    assert.ok(['bottom-up', 'not-bottom-up', 'inconclusive'].includes(body.convergence.verdict));
    assert.equal(body.convergence.reason === null, body.convergence.verdict !== 'inconclusive');
    assert.equal(body.crawl.layer, 'fc2');
    assert.deepEqual(
      body.crawl.steps.map((s: { fraction: number }) => s.fraction),
      fractions,
    );
    const last = body.crawl.steps.at(-1)!;
    assert.equal(last.mostSimilar, 'fc2', 'at the end a layer is most similar to its final self');
    assert.ok(Math.abs((last.rho ?? Number.NaN) - 1) < 1e-3);
    assert.deepEqual(Object.keys(last.rhoByLayer), LAYERS);
    assert.ok(['crawl', 'no-crawl', 'inconclusive'].includes(body.crawl.verdict));
    await errorOf(`/v1/experiments/${id}/analysis?layer=nope`, 400, 'UNKNOWN_LAYER');
    await errorOf(`/v1/experiments/${id}/analysis?threshold=2`, 400, 'INVALID_REQUEST');
  });

  it('is readable with a share token, and hidden from other teams and anonymous callers', async () => {
    const { id } = await finishedExperiment();
    const token = randomBytes(24).toString('base64url');
    await svc.db.share.create({ data: { experimentId: id, tokenHash: hashSecret(token) } });
    const texts = await svgOf(`/v1/experiments/${id}/figures/convergence.svg?share=${token}`, { key: null });
    assert.ok(texts.includes('fc1'));
    const res = await svc.request(`/v1/experiments/${id}/analysis?share=${token}`, { key: null });
    assert.equal(res.status, 200);
    await errorOf(`/v1/experiments/${id}/figures/crawl.svg?share=wrong`, 404, 'EXPERIMENT_NOT_FOUND', {
      key: null,
    });
    await errorOf(`/v1/experiments/${id}/figures/crawl.svg`, 401, 'MISSING_API_KEY', { key: null });
    const other = await svc.newTeam();
    await errorOf(`/v1/experiments/${id}/analysis`, 404, 'EXPERIMENT_NOT_FOUND', { key: other.key });
  });
});
