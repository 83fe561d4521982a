// The web page end to end in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
// against the real API and worker: a bad key is refused with a clear message, the right key lists the
// team's experiments, a queued experiment's page follows its progress live (SSE) until the results
// appear, the page shows Figures 1-3 and the heatmap (a slider picks the checkpoint), a click on a
// cell shows its coefficient spectrum, and a share link opens the experiment in a fresh browser
// without a key.
// Writes test-output/web-experiment.png (gitignored) for a look at the design.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { repoRoot, waitFor } from '../helpers/env.ts';
import { type Service, startService, tinySpec } from '../helpers/service.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const LAYERS = ['input', 'fc1', 'fc2', 'logits'];

describe('web page in headless Chromium', () => {
  let svc: Service;
  let browser: Browser;
  let id: string;
  const problems: string[] = [];

  before(async () => {
    // no worker yet: the experiment stays queued until the test starts one, so the page's live
    // progress (SSE) is seen deterministically
    svc = await startService({ workers: 0 });
    const res = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify(tinySpec({ name: 'web tiny' })),
    });
    assert.equal(res.status, 202, await res.clone().text());
    id = (await res.json()).id;
    // launch() gives Chromium a fresh, empty temporary profile (--user-data-dir) and removes it on close
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    // Drop this process's keep-alive connections to the API first: a lingering one otherwise holds
    // the API's graceful shutdown in svc.stop() for up to a minute (seen about one run in three).
    const dispatcher = (globalThis as Record<symbol, { destroy?: () => Promise<void> } | undefined>)[
      Symbol.for('undici.globalDispatcher.1')
    ];
    await dispatcher?.destroy?.();
    await svc?.stop();
  });

  /** A fresh context (no localStorage) whose console errors and page errors fail the test. */
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({
      viewport: { width: 1360, height: 1000 },
      colorScheme: 'light',
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // Chromium logs every 4xx answer (the bad key, the bad share token); anything else is a problem
      if (msg.type() === 'error' && !/Failed to load resource: .*status of 40[14]/.test(msg.text()))
        problems.push(`console: ${msg.text()}`);
    });
    return { context, page };
  }

  it('serves the page publicly with strict headers; data still needs a key', async () => {
    const res = await fetch(`${svc.base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(await res.text(), /<script type="module" src="\/app.js">/);
    const statusOf = async (path: string) => {
      const r = await fetch(`${svc.base}${path}`);
      await r.arrayBuffer();
      return r.status;
    };
    for (const asset of ['/app.js', '/style.css', '/favicon.svg'])
      assert.equal(await statusOf(asset), 200, asset);
    assert.equal(await statusOf('/package.json'), 404);
    assert.equal(await statusOf('/tsconfig.json'), 404, 'only the page files are served');
    assert.equal(await statusOf('/v1/experiments'), 401);
  });

  it('refuses a bad key, lists the experiments, follows one live and explores its results', async () => {
    const { context, page } = await newPage();
    await page.goto(`${svc.base}/`);
    const keyInput = page.getByLabel('API key');
    await keyInput.fill('rdk_not_a_real_key');
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('alert').filter({ hasText: 'This key was not accepted' }).waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /INVALID_API_KEY/);

    await keyInput.fill(svc.key);
    await page.getByRole('button', { name: 'Open' }).click();
    const row = page.locator(`tr[data-id="${id}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /web tiny/);
    await row.locator('[data-status="queued"]').waitFor();

    // the running experiment's page follows its progress live, then shows the results without a reload
    await row.click();
    await page.getByTestId('experiment-name').filter({ hasText: 'web tiny' }).waitFor();
    assert.ok(page.url().endsWith(`#/experiments/${id}`), page.url());
    const live = page.getByTestId('live-progress');
    await live.locator('li.now').filter({ hasText: 'queued' }).waitFor();
    await page.evaluate('window.__sameDocument = true');
    await svc.startWorker();
    await page.getByTestId('heatmap').locator('rect.cell').first().waitFor({ timeout: 90_000 });
    assert.equal(await page.evaluate('window.__sameDocument'), true, 'no reload');
    await page.locator('.exp-head [data-status="succeeded"]').waitFor();
    const final = await (await svc.request(`/v1/experiments/${id}`)).json();
    assert.equal(final.status, 'succeeded');

    // Figures 1-3: SVGs from the API, shown as loaded images
    for (const fig of ['figure1', 'figure2', 'figure3']) {
      const img = page.getByTestId(fig).locator('img');
      await img.waitFor();
      await waitFor(
        () =>
          img.evaluate((el) => {
            const image = el as unknown as { complete: boolean; naturalWidth: number };
            return image.complete && image.naturalWidth > 100;
          }),
        {
          what: `${fig} to load`,
        },
      );
    }
    await page.getByTestId('verdicts').locator('.verdict').first().waitFor();
    // warnings next to the verdicts: 256 probe examples cannot judge the 784-wide input
    const warnings = page.getByTestId('warnings');
    await warnings.waitFor();
    assert.match(
      (await warnings.textContent()) ?? '',
      /few-samples.*'input' has 784 features and 256 samples/,
    );
    // the crawl cannot decide without the input: inconclusive, and the page says why
    assert.match(
      (await page.getByTestId('verdict-reason').allTextContents()).join('\n'),
      /few-samples: input has 784 features and 256 samples/,
    );

    // the heatmap of the last checkpoint: one cell per (reference, specimen) pair, labelled by layer
    const heatmap = page.getByTestId('heatmap');
    await heatmap.locator('rect.cell').first().waitFor();
    assert.equal(await heatmap.locator('rect.cell').count(), LAYERS.length * LAYERS.length);
    const texts = await heatmap.locator('text').allTextContents();
    for (const name of LAYERS) assert.ok(texts.includes(name), `axis label ${name}`);
    const last = final.checkpoints.length - 1;
    assert.match(
      (await page.getByTestId('checkpoint-label').textContent()) ?? '',
      new RegExp(`^#${last} · step `),
    );
    const rho = await (
      await svc.request(`/v1/experiments/${id}/tensor?measure=rho&checkpoint=${last}`)
    ).json();
    const cell = heatmap.locator('rect[data-ref="fc1"][data-spec="fc2"]');
    assert.match(
      (await cell.getAttribute('aria-label')) ?? '',
      new RegExp(`: rho ${rho.values[1][2].toFixed(3)}$`),
    );

    // the slider picks another checkpoint
    await page.getByTestId('checkpoint').fill('0');
    await page
      .getByTestId('checkpoint-label')
      .filter({ hasText: /^#0 · step 0 ·/ })
      .waitFor();
    const rho0 = await (await svc.request(`/v1/experiments/${id}/tensor?measure=rho&checkpoint=0`)).json();
    await waitFor(
      async () =>
        (await cell.getAttribute('aria-label'))?.endsWith(`rho ${rho0.values[1][2].toFixed(3)}`) ?? false,
      { what: 'the heatmap of checkpoint 0' },
    );

    // a click on a cell shows its sorted coefficient spectrum
    await cell.click();
    const spectrum = page.getByTestId('spectrum');
    await spectrum.waitFor();
    const coefs = await (
      await svc.request(
        `/v1/experiments/${id}/tensor?measure=coefficients&refLayer=fc1&specLayer=fc2&checkpoint=0`,
      )
    ).json();
    assert.equal(Number(await spectrum.getAttribute('data-count')), coefs.counts[0][0]);
    assert.ok(coefs.counts[0][0] > 0);
    assert.match((await page.getByTestId('spectrum-title').textContent()) ?? '', /fc2 at 0% × final fc1/);
    assert.equal(await spectrum.locator('circle.dot').count(), coefs.counts[0][0]);

    // the address keeps the checkpoint and the cell: a reload opens the same view
    assert.match(page.url(), new RegExp(`#/experiments/${id}\\?ckpt=0&ref=fc1&spec=fc2$`));
    await page.reload();
    await page.getByTestId('spectrum-title').filter({ hasText: 'fc2 at 0% × final fc1' }).waitFor();
    assert.equal(await page.getByTestId('checkpoint').inputValue(), '0');

    mkdirSync(join(repoRoot, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, 'test-output', 'web-experiment.png'), fullPage: true });

    // share: the button creates a link the page understands
    await page.getByTestId('share').click();
    const shareInput = page.getByTestId('share-url');
    await shareInput.waitFor();
    const shareUrl = await shareInput.inputValue();
    assert.match(shareUrl, new RegExp(`^${svc.base}/#/experiments/${id}\\?share=[\\w-]{20,}$`));
    await page.getByRole('link', { name: '← All experiments' }).click();
    await page.locator(`tr[data-id="${id}"] [data-status="succeeded"]`).waitFor();
    await context.close();

    // a fresh browser context without a key opens the shared experiment
    const fresh = await newPage();
    await fresh.page.goto(shareUrl);
    await fresh.page.getByTestId('experiment-name').filter({ hasText: 'web tiny' }).waitFor();
    await fresh.page.getByTestId('shared-badge').waitFor();
    await fresh.page.getByTestId('heatmap').locator('rect.cell').first().waitFor();
    await fresh.page.getByTestId('figure2').locator('img').waitFor();
    assert.equal(await fresh.page.getByTestId('share').count(), 0, 'no share button without a key');
    assert.equal(await fresh.page.evaluate('localStorage.getItem("repdyn.apiKey")'), null);

    // a share link with a wrong token says so
    await fresh.page.goto(`${svc.base}/#/experiments/${id}?share=not-a-token`);
    await fresh.page.getByText('This share link is not valid').waitFor();
    await fresh.context.close();
    assert.deepEqual(problems, []);
  });

  it('pages through a long experiment list', async () => {
    // 105 finished (canceled) experiments written straight to Postgres for a team of their own
    const team = await svc.newTeam();
    const base = Date.now() - 3_600_000;
    await svc.db.experiment.createMany({
      data: Array.from({ length: 105 }, (_, i) => ({
        teamId: team.teamId,
        name: `paged ${i}`,
        spec: tinySpec({ name: `paged ${i}` }),
        specHash: `paged-${i}`,
        status: 'canceled' as const,
        createdAt: new Date(base + i * 1000),
        finishedAt: new Date(base + i * 1000),
      })),
    });
    const { context, page } = await newPage();
    await page.goto(`${svc.base}/`);
    await page.getByLabel('API key').fill(team.key);
    await page.getByRole('button', { name: 'Open' }).click();
    const rows = page.getByTestId('experiments').locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 100, 'the first page');
    assert.match((await rows.first().textContent()) ?? '', /paged 104/, 'newest first');
    const more = page.getByTestId('list-more');
    await more.click();
    await waitFor(async () => (await rows.count()) === 105, { what: 'the older experiments' });
    assert.match((await rows.last().textContent()) ?? '', /paged 0/);
    assert.equal(await more.count(), 0, 'no more pages');
    await context.close();
    assert.deepEqual(problems, []);
  });
});
