// The web page end to end in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
// against the real API and worker. The page's files are an allow-list (nothing else under the
// repository is reachable, however the path is spelled). A bad key is refused with a clear message;
// the right key opens the New experiment form: presets from the API with their dataset and layers, a
// live estimate (dry run) with its warnings, a broken spec reported before submitting, then a pasted
// spec submitted. Its page follows the progress live (SSE) until the results appear; another queued
// experiment is canceled after a confirmation. The finished one shows its verdicts, the full crawl
// table, Figures 1-3 and the heatmap (a slider picks the checkpoint); the current slice and the whole
// tensor download as .npy that numpy loads with the announced shape (and as CSV); a click on a cell
// shows its coefficient spectrum; a share link opens the experiment in a fresh browser without a key;
// Delete (after a confirmation) removes it.
// Writes test-output/web-experiment.png and web-new.png (gitignored) for a look at the design.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { pageFiles } from '../../server/routes/web.ts';
import { repoRoot, waitFor } from '../helpers/env.ts';
import { readJson, type Submitted } from '../helpers/json.ts';
import { type Service, startService, tinySpec } from '../helpers/service.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const LAYERS = ['input', 'fc1', 'fc2', 'logits'];
/** More checkpoints than the old crawl card's 4 steps, so the full table is seen. */
const CHECKPOINTS = 6;

interface Slice {
  shape: number[];
  values: (number | null)[][];
  counts: number[][];
}
interface Experiment {
  id: string;
  status: string;
  checkpoints: { index: number }[];
}
interface Analysis {
  crawl: { steps: unknown[] };
}
interface Preset {
  name: string;
  dataset: string;
  layers: { name: string }[];
  example: { reference?: { training?: { epochs?: number } } };
}

/** GET path (with the service's key) as JSON of the expected shape. */
async function getJson<T>(svc: Service, path: string): Promise<T> {
  const res = await svc.request(path);
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  return (await res.json()) as T;
}

/** A raw GET with the path sent exactly as written (fetch would resolve `..` and re-encode). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The shape numpy reads from an .npy file. */
function numpyShape(path: string): number[] {
  const out = execFileSync(
    'python3',
    ['-c', 'import sys, numpy; a = numpy.load(sys.argv[1]); print(",".join(map(str, a.shape)))', path],
    { encoding: 'utf8' },
  );
  return out.trim().split(',').map(Number);
}

describe('web page in headless Chromium', () => {
  let svc: Service;
  let browser: Browser;
  let downloads: string;
  const problems: string[] = [];

  before(async () => {
    // no worker yet: a submitted experiment stays queued until the test starts one, so the page's
    // live progress (SSE) and a cancel before it starts are seen deterministically
    svc = await startService({ workers: 0 });
    downloads = mkdtempSync(join(tmpdir(), 'repdyn-web-downloads-'));
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
    rmSync(downloads, { recursive: true, force: true });
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
      acceptDownloads: true,
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // Chromium logs every 4xx answer (the bad key, the bad share token, the broken spec's dry
      // run); anything else is a problem
      if (msg.type() === 'error' && !/Failed to load resource: .*status of 4(00|01|04|22)/.test(msg.text()))
        problems.push(`console: ${msg.text()}`);
    });
    return { context, page };
  }

  /** Clicks a download button and saves what the page hands over; returns the file's path. */
  async function saveDownload(page: Page, testid: string): Promise<{ path: string; name: string }> {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()]);
    const name = download.suggestedFilename();
    const path = join(downloads, name);
    await download.saveAs(path);
    return { path, name };
  }

  it('serves the page publicly from an allow-list with strict headers; data still needs a key', async () => {
    const res = await fetch(`${svc.base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(await res.text(), /<script type="module" src="\/js\/main.js">/);
    const statusOf = async (path: string) => {
      const r = await fetch(`${svc.base}${path}`);
      await r.arrayBuffer();
      return r.status;
    };
    // the allow-list: every page file under web/ (the modules in web/js/ included), nothing else
    const files = pageFiles();
    for (const module of ['js/main.js', 'js/api.js', 'js/sse.js', 'js/router.js', 'js/views/new.js'])
      assert.ok(files.includes(module), module);
    assert.ok(!files.includes('tsconfig.json'));
    for (const file of files) {
      if (file === 'index.html') continue; // served as /
      const r = await fetch(`${svc.base}/${file}`);
      assert.equal(r.status, 200, file);
      if (file.endsWith('.js')) assert.match(r.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      await r.arrayBuffer();
    }
    assert.equal(await statusOf('/app.js'), 404, 'the old single-file page is gone');
    assert.equal(await statusOf('/package.json'), 404);
    assert.equal(await statusOf('/tsconfig.json'), 404, 'only the page files are served');
    assert.equal(await statusOf('/js/'), 404, 'no directory listing');
    assert.equal(await statusOf('/v1/experiments'), 401);
    // no path from a URL reaches the disk: traversal in any spelling misses
    for (const path of [
      '/js/../package.json',
      '/js/../../package.json',
      '/js/views/../../../package.json',
      '/js/%2e%2e/%2e%2e/package.json',
      '/js/..%2f..%2fpackage.json',
      '/js/%2E%2E%2F%2E%2E%2Fpackage.json',
      '/%2e%2e/package.json',
      '/js/..\\..\\package.json',
      '/js%2fmain.js',
      '/js/main.js/../../server/main.ts',
      '/web/js/main.js',
      '/js/.%2e/.%2e/.env',
      '//etc/passwd',
    ]) {
      const r = await rawGet(svc.base, path);
      assert.ok(r.status === 404 || r.status === 400, `${path} → ${r.status}`);
      assert.doesNotMatch(r.body, /"name": "repdyn"|root:|import /, path);
    }
  });

  it('submits from the form, follows it live, explores, downloads, shares and deletes it', async () => {
    const { context, page } = await newPage();
    await page.goto(`${svc.base}/`);
    const keyInput = page.getByLabel('API key');
    await keyInput.fill('rdk_not_a_real_key');
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('alert').filter({ hasText: 'This key was not accepted' }).waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /INVALID_API_KEY/);
    await keyInput.fill(svc.key);
    await keyInput.press('Enter');

    // New experiment: the presets the API lists, with their dataset and layers
    await page.getByRole('link', { name: 'New experiment' }).click();
    await page.getByRole('heading', { name: 'New experiment' }).waitFor();
    const { presets } = await getJson<{ presets: Preset[] }>(svc, '/v1/presets');
    const preset = page.getByLabel('Preset');
    const offered = await preset
      .locator('option')
      .evaluateAll((els) => els.map((el) => (el as unknown as { value: string }).value));
    for (const p of presets) assert.ok(offered.includes(p.name), `preset ${p.name} offered`);
    assert.ok(offered.includes('mnist-fc') && offered.includes('cifar10-conv'));
    await preset.selectOption('mnist-fc');
    const mnist = presets.find((p) => p.name === 'mnist-fc');
    assert.equal(await page.getByTestId('preset-dataset').textContent(), mnist?.dataset);
    assert.equal(
      await page.getByRole('list', { name: 'layers of mnist-fc' }).locator('li').count(),
      mnist?.layers.length,
    );
    // the live estimate of the small variant, then of the preset's own schedule (longer)
    const estimate = page.getByTestId('estimate');
    await page.locator('[data-testid="estimate"][data-state="ok"]').waitFor();
    assert.match((await page.getByTestId('estimate-time').textContent()) ?? '', /time~\d/);
    assert.match((await page.getByTestId('estimate-memory').textContent()) ?? '', /memory\d+ MB/);
    const specText = () => page.getByLabel('Experiment spec (JSON)').inputValue();
    const small = JSON.parse(await specText());
    assert.equal(small.reference.architecture.preset, 'mnist-fc');
    assert.equal(small.reference.training.epochs, 1);
    await page.getByLabel('Size').selectOption('full');
    const ownEpochs = mnist?.example.reference?.training?.epochs;
    await waitFor(async () => JSON.parse(await specText()).reference.training?.epochs === ownEpochs, {
      what: "the preset's own schedule in the spec",
    });
    // a field edits the spec
    await page.getByLabel('Probe examples').fill('300');
    await waitFor(async () => JSON.parse(await specText()).probe?.examples === 300, { what: 'probe field' });
    mkdirSync(join(repoRoot, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, 'test-output', 'web-new.png'), fullPage: true });

    // a broken spec is reported before submitting: bad JSON locally, a bad value by the dry run
    const specArea = page.getByLabel('Experiment spec (JSON)');
    await specArea.fill('{"name": ');
    await estimate.locator('[role="alert"]').filter({ hasText: 'Not valid JSON' }).waitFor();
    await specArea.fill(JSON.stringify(tinySpec({ name: 'web tiny', probe: { examples: 0 } })));
    await page.locator('[data-testid="estimate"][data-state="error"] [role="alert"]').waitFor();
    assert.match((await estimate.textContent()) ?? '', /probe/);
    // the API's words reach the form: a typo named with its fix, a preset on another data set
    const typo = tinySpec({ name: 'web tiny' }) as { reference: Record<string, unknown> };
    typo.reference['trainig'] = typo.reference['training'];
    delete typo.reference['training'];
    await specArea.fill(JSON.stringify(typo));
    await estimate.getByRole('alert').filter({ hasText: 'did you mean "training"?' }).waitFor();
    await preset.selectOption('mnist-fc');
    await page.getByLabel('Size').selectOption('small');
    const conflict = JSON.parse(await specText());
    conflict.reference.dataset = 'cifar10';
    await specArea.fill(JSON.stringify(conflict));
    await estimate.getByRole('alert').filter({ hasText: 'PRESET_DATASET_CONFLICT' }).waitFor();
    assert.match(
      (await estimate.textContent()) ?? '',
      /"cifar10" conflicts with architecture.preset "mnist-fc"/,
    );

    // the pasted spec: its estimate and the warnings it will get, then submit
    await preset.selectOption('');
    const spec = tinySpec({ name: 'web tiny' }) as ReturnType<typeof tinySpec> & {
      reference: { checkpoints: { count: number } };
    };
    spec.reference.checkpoints.count = CHECKPOINTS;
    await specArea.fill(JSON.stringify(spec, null, 2));
    await page.locator('[data-testid="estimate"][data-state="ok"]').waitFor();
    assert.equal(await page.getByLabel('Name').inputValue(), 'web tiny', 'the fields follow the pasted spec');
    assert.equal(await page.getByLabel('Checkpoints').inputValue(), String(CHECKPOINTS));
    assert.match(
      (await page.getByTestId('estimate-warnings').textContent()) ?? '',
      /few-samples.*'input' has 784 features and 256 samples/,
    );
    await page.getByRole('button', { name: 'Submit experiment' }).click();

    // the experiment's page follows it live
    await page.getByTestId('experiment-name').filter({ hasText: 'web tiny' }).waitFor();
    const id = /#\/experiments\/([0-9a-f-]{36})$/.exec(page.url())?.[1];
    assert.ok(id, page.url());
    const facts = page.getByTestId('facts');
    assert.equal(await facts.locator('[data-fact="network"]').textContent(), 'mlp 32-32');
    assert.equal(await facts.locator('[data-fact="dataset"]').textContent(), 'mnist');
    assert.match(
      (await facts.locator('[data-fact="probe"]').textContent()) ?? '',
      /^\d+ (test|train) examples$/,
    );
    assert.match((await facts.locator('[data-fact="checkpoints"]').textContent()) ?? '', /^\d+/);
    assert.equal(await facts.locator('[data-fact="specimen"]').textContent(), 'same as reference');
    const live = page.getByTestId('live-progress');
    await live.locator('li.now').filter({ hasText: 'queued' }).waitFor();
    // what the phase does, in the API's words
    const { phases } = await getJson<{ phases: Record<string, string> }>(svc, '/v1/meta');
    assert.equal(await live.getByTestId('phase-words').textContent(), `queued: ${phases['queued']}`);

    // another queued experiment is canceled from its page, after a confirmation
    const other = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify(tinySpec({ name: 'web cancel me' })),
    });
    assert.equal(other.status, 202, await other.clone().text());
    const otherId = (await readJson<Submitted>(other)).id;
    await page.goto(`${svc.base}/#/experiments/${otherId}`);
    await page.getByTestId('experiment-name').filter({ hasText: 'web cancel me' }).waitFor();
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: 'Cancel “web cancel me”?' }).waitFor();
    await dialog.getByRole('button', { name: 'Keep' }).click(); // changed my mind
    assert.equal(await page.getByRole('dialog').count(), 0);
    assert.equal((await getJson<Experiment>(svc, `/v1/experiments/${otherId}`)).status, 'queued');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dialog.getByRole('button', { name: 'Cancel experiment' }).click();
    await page.locator('.exp-head [data-status="canceled"]').waitFor();
    await page.getByTestId('finished-without-results').filter({ hasText: 'canceled' }).waitFor();
    assert.equal((await getJson<Experiment>(svc, `/v1/experiments/${otherId}`)).status, 'canceled');

    // back to the submitted one: it runs, and the results appear without a reload
    await page.getByRole('link', { name: '← All experiments' }).click();
    const row = page.locator(`tr[data-id="${id}"]`);
    await row.locator('[data-status="queued"]').waitFor();
    assert.match((await row.textContent()) ?? '', /mlp 32-32.*mnist/);
    await row.getByRole('link', { name: 'web tiny' }).click();
    await live.locator('li.now').filter({ hasText: 'queued' }).waitFor();
    await page.evaluate('window.__sameDocument = true');
    await svc.startWorker();
    await page.getByTestId('heatmap').locator('rect.cell').first().waitFor({ timeout: 120_000 });
    assert.equal(await page.evaluate('window.__sameDocument'), true, 'no reload');
    await page.locator('.exp-head [data-status="succeeded"]').waitFor();
    const final = await getJson<Experiment>(svc, `/v1/experiments/${id}`);
    assert.equal(final.status, 'succeeded');
    assert.equal(final.checkpoints.length, CHECKPOINTS);

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
        { what: `${fig} to load` },
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
    // the full crawl table: every step the analysis judged, not the first 4
    const analysis = await getJson<Analysis>(svc, `/v1/experiments/${id}/analysis`);
    assert.ok(analysis.crawl.steps.length > 4, `${analysis.crawl.steps.length} crawl steps`);
    assert.equal(
      await page.getByTestId('crawl-table').locator('tbody tr').count(),
      analysis.crawl.steps.length,
    );

    // the heatmap of the last checkpoint: one cell per (reference, specimen) pair, labelled by layer
    const heatmap = page.getByTestId('heatmap');
    assert.equal(await heatmap.locator('rect.cell').count(), LAYERS.length * LAYERS.length);
    const texts = await heatmap.locator('text').allTextContents();
    for (const name of LAYERS) assert.ok(texts.includes(name), `axis label ${name}`);
    const last = final.checkpoints.length - 1;
    assert.match(
      (await page.getByTestId('checkpoint-label').textContent()) ?? '',
      new RegExp(`^#${last} · step `),
    );
    const rho = await getJson<Slice>(svc, `/v1/experiments/${id}/tensor?measure=rho&checkpoint=${last}`);
    const cell = heatmap.locator('rect[data-ref="fc1"][data-spec="fc2"]');
    assert.match(
      (await cell.getAttribute('aria-label')) ?? '',
      new RegExp(`: rho ${rho.values[1][2]?.toFixed(3)}$`),
    );

    // the slider picks another checkpoint
    await page.getByLabel('checkpoint', { exact: true }).fill('0');
    await page
      .getByTestId('checkpoint-label')
      .filter({ hasText: /^#0 · step 0 ·/ })
      .waitFor();
    const rho0 = await getJson<Slice>(svc, `/v1/experiments/${id}/tensor?measure=rho&checkpoint=0`);
    await waitFor(
      async () =>
        (await cell.getAttribute('aria-label'))?.endsWith(`rho ${rho0.values[1][2]?.toFixed(3)}`) ?? false,
      { what: 'the heatmap of checkpoint 0' },
    );

    // downloads: the slice on screen and the whole tensor, .npy with the announced shape, and CSV
    const sliceShape = (await page.getByTestId('slice-shape').getAttribute('data-shape')) ?? '';
    assert.equal(sliceShape, `${LAYERS.length},${LAYERS.length}`);
    const slice = await saveDownload(page, 'download-slice-npy');
    assert.equal(slice.name, 'web-tiny-rho-ckpt0.npy');
    assert.deepEqual(numpyShape(slice.path), sliceShape.split(',').map(Number));
    await page.getByTestId('download-status').filter({ hasText: 'shape 4 × 4' }).waitFor();
    const tensorShape = (await page.getByTestId('tensor-shape').getAttribute('data-shape')) ?? '';
    assert.equal(tensorShape, `${LAYERS.length},${LAYERS.length},${CHECKPOINTS}`);
    const tensor = await saveDownload(page, 'download-tensor-npy');
    assert.deepEqual(numpyShape(tensor.path), tensorShape.split(',').map(Number));
    const csv = await saveDownload(page, 'download-slice-csv');
    const lines = readFileSync(csv.path, 'utf8').trim().split('\n');
    assert.match(lines[0], /^refLayer,specLayer,checkpoint,step,fraction,measure,value$/);
    assert.equal(lines.length, 1 + LAYERS.length * LAYERS.length);
    const fc1fc2 = lines
      .find((l) => l.startsWith('fc1,fc2,0,'))
      ?.split(',')
      .at(-1);
    assert.equal(Number(fc1fc2).toFixed(3), rho0.values[1][2]?.toFixed(3));

    // a click on a cell shows its sorted coefficient spectrum
    await cell.click();
    const spectrum = page.getByTestId('spectrum');
    await spectrum.waitFor();
    const coefs = await getJson<Slice>(
      svc,
      `/v1/experiments/${id}/tensor?measure=coefficients&refLayer=fc1&specLayer=fc2&checkpoint=0`,
    );
    assert.equal(Number(await spectrum.getAttribute('data-count')), coefs.counts[0][0]);
    assert.ok(coefs.counts[0][0] > 0);
    assert.match((await page.getByTestId('spectrum-title').textContent()) ?? '', /fc2 at 0% × final fc1/);
    assert.equal(await spectrum.locator('circle.dot').count(), coefs.counts[0][0]);
    // keyboard: a focused cell opens with Enter
    await heatmap.locator('rect[data-ref="fc2"][data-spec="fc1"]').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('spectrum-title').filter({ hasText: 'fc1 at 0% × final fc2' }).waitFor();
    await cell.click();

    // the address keeps the checkpoint and the cell: a reload opens the same view
    assert.match(page.url(), new RegExp(`#/experiments/${id}\\?ckpt=0&ref=fc1&spec=fc2$`));
    await page.reload();
    await page.getByTestId('spectrum-title').filter({ hasText: 'fc2 at 0% × final fc1' }).waitFor();
    assert.equal(await page.getByTestId('checkpoint').inputValue(), '0');
    await page.screenshot({ path: join(repoRoot, 'test-output', 'web-experiment.png'), fullPage: true });
    // an address naming a layer the experiment lacks says so instead of ignoring it
    await page.goto(`${svc.base}/#/experiments/${id}?ref=2`);
    await page.getByTestId('address-note').filter({ hasText: 'reference layer “2”' }).waitFor();

    // share: the button creates a link the page understands
    await page.getByTestId('share').click();
    const shareInput = page.getByTestId('share-url');
    await shareInput.waitFor();
    const shareUrl = await shareInput.inputValue();
    assert.match(shareUrl, new RegExp(`^${svc.base}/#/experiments/${id}\\?share=[\\w-]{20,}$`));

    // a fresh browser context without a key opens the shared experiment
    const fresh = await newPage();
    await fresh.page.goto(shareUrl);
    await fresh.page.getByTestId('experiment-name').filter({ hasText: 'web tiny' }).waitFor();
    await fresh.page.getByTestId('shared-badge').waitFor();
    await fresh.page.getByTestId('heatmap').locator('rect.cell').first().waitFor();
    await fresh.page.getByTestId('figure2').locator('img').waitFor();
    assert.equal(await fresh.page.getByTestId('share').count(), 0, 'no share button without a key');
    assert.equal(await fresh.page.getByTestId('delete').count(), 0, 'no delete without a key');
    const shared = await saveDownload(fresh.page, 'download-slice-npy');
    assert.deepEqual(numpyShape(shared.path), [LAYERS.length, LAYERS.length]);
    assert.equal(await fresh.page.evaluate('localStorage.getItem("repdyn.apiKey")'), null);
    // a share link with a wrong token says so
    await fresh.page.goto(`${svc.base}/#/experiments/${id}?share=not-a-token`);
    await fresh.page.getByText('This share link is not valid').waitFor();

    // delete, after a confirmation: by keyboard, the dialog opens on "Keep" and Escape keeps it
    await page.getByTestId('delete').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Keep');
    await page.keyboard.press('Escape');
    assert.equal(await page.getByRole('dialog').count(), 0);
    assert.equal((await svc.request(`/v1/experiments/${id}`)).status, 200);
    // then for real: back to the list, gone from the API, the share link dead
    await page.getByTestId('delete').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete experiment' }).click();
    await page.getByTestId('experiments').waitFor();
    assert.equal(await page.locator(`tr[data-id="${id}"]`).count(), 0);
    assert.equal((await svc.request(`/v1/experiments/${id}`)).status, 404);
    await fresh.page.goto(shareUrl);
    await fresh.page.getByText('This share link is not valid').waitFor();
    await fresh.context.close();
    await context.close();
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
