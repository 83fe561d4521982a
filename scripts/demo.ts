// `npm run demo`: migrate, start the API and a worker, create a team and key if none exist, submit
// the paper's MNIST setting (mnist-fc, Net_S = Net_R, log-spaced checkpoints; reduced to finish in
// minutes on 2 cores), show live progress, then print each layer's rho to its final version at
// about 0 %, 3 %, 50 % and 99 % of training and the bottom-up verdict. Writes ./demo-output/, with
// report.md: each of the paper's claims, the numbers measured, the null and whether it holds. At the
// end it prints a share link to the experiment's page (served by `npm start`) and the command that
// makes a key for the demo's team.
// `npm run demo -- --cifar` runs the paper's second setting instead, the CIFAR-10 conv net (reduced
// to finish in under 30 minutes on 2 cores). Ctrl-C stops everything cleanly.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, repoRoot } from '../config/index.ts';
import { convReductionWarnings } from '../core/analysis/conv-reduction.ts';
import { type AnalysisWarning, dedupeWarnings, layerWarnings } from '../core/analysis/warnings.ts';
import { figureDataFromCells } from '../core/figures/data.ts';
import { nearestCheckpoints } from '../core/figures/heatmaps.ts';
import { type ReportAnalysis, reproductionReport } from '../core/report.ts';
import { createTeam } from '../store/auth.ts';
import { createDb } from '../store/db.ts';
import { freePort } from './lib/free-port.ts';

// biome-ignore lint/suspicious/noExplicitAny: the demo reads the API's JSON responses
type Json = any;

const OUT = join(repoRoot, 'demo-output');
const children: ChildProcess[] = [];
const t0 = Date.now();

function shutdown(code: number): never {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  process.exit(code);
}
process.on('SIGINT', () => {
  process.stdout.write('\ninterrupted; stopping the API and the worker\n');
  shutdown(130);
});

const CIFAR = process.argv.includes('--cifar');

const mnistSpec = {
  name: 'demo: mnist-fc bottom-up',
  reference: {
    dataset: 'mnist',
    architecture: { preset: 'mnist-fc' },
    training: {
      epochs: 1,
      batchSize: 64,
      trainExamples: 60000,
      seed: 0,
      optimizer: { type: 'sgd', learningRate: 0.01, momentum: 0.9 },
    },
    checkpoints: { count: 12, spacing: 'log' },
  },
  specimen: 'same',
  probe: { split: 'test', examples: 2500, seed: 0 },
  similarity: { methods: ['cca', 'cka'] },
};

// The paper's CIFAR-10 conv net (preset cifar10-conv) on 2 cores: 2 epochs over 10,000 training
// images (314 steps), 12 log-spaced checkpoints, 2,000 probe images; conv-vs-conv pairs use positions
// as samples (on conv3's 8×8 grid), pairs with fc1, the logits or the input use the layers average-
// pooled to the finest grid with 10 probe images per feature (the network mixes conv and dense layers).
const cifarSpec = {
  name: 'demo: cifar10-conv',
  reference: {
    dataset: 'cifar10',
    architecture: { preset: 'cifar10-conv' },
    training: {
      epochs: 2,
      batchSize: 64,
      trainExamples: 10000,
      seed: 0,
      optimizer: { type: 'adam', learningRate: 0.001 },
    },
    checkpoints: { count: 12, spacing: 'log' },
  },
  specimen: 'same',
  probe: { split: 'test', examples: 2000, seed: 0 },
  similarity: { methods: ['cca'] },
};

const spec = CIFAR ? cifarSpec : mnistSpec;

async function main(): Promise<void> {
  const config = loadConfig();
  console.log('repdyn demo: applying migrations');
  const migrate = spawnSync('npm', ['run', '--silent', 'db:migrate'], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (migrate.status !== 0) shutdown(1);

  const db = createDb(config.databaseUrl, { poolSize: 2 });
  const team = `demo-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}`;
  const { key } = await createTeam(db, team);
  console.log(`repdyn demo: team ${team} with a fresh admin key`);

  const port = await freePort();
  const env = { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' };
  for (const entry of ['server/main.ts', 'worker/main.ts']) {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('exit', (code) => {
      if (code !== null && code !== 0) {
        console.error(`repdyn demo: ${entry} exited with ${code}`);
        shutdown(1);
      }
    });
    children.push(child);
  }
  const base = `http://127.0.0.1:${port}`;
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${key}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body as Json;
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/ready`)).ok) break;
    } catch {}
    if (i > 1800) throw new Error('API did not become ready within 3 minutes');
    await new Promise((r) => setTimeout(r, 100));
  }
  const submitted = await api('/v1/experiments', { method: 'POST', body: JSON.stringify(spec) });
  const id = submitted['id'] as string;
  console.log(
    `repdyn demo: submitted experiment ${id} (estimate ${JSON.stringify(submitted['estimate'].seconds)})`,
  );

  let exp: Json;
  for (;;) {
    exp = await api(`/v1/experiments/${id}`);
    const f = exp['progress'].fraction as number;
    const width = 30;
    const bar = '█'.repeat(Math.round(f * width)).padEnd(width, '░');
    const done = ['succeeded', 'failed', 'canceled'].includes(exp['status']);
    const eta =
      exp['progress'].etaSeconds != null && !done ? ` ETA ${Math.round(exp['progress'].etaSeconds)}s` : '';
    process.stdout.write(
      `\r${bar} ${(f * 100).toFixed(0).padStart(3)}% ${exp['status'].padEnd(9)} ${String(exp['progress'].message).slice(0, 60).padEnd(60)}${eta}   `,
    );
    if (['succeeded', 'failed', 'canceled'].includes(exp['status'])) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  process.stdout.write('\n');
  if (exp['status'] !== 'succeeded') {
    console.error(`repdyn demo: experiment ${exp['status']}: ${JSON.stringify(exp['error'])}`);
    shutdown(1);
  }

  const layers = exp['layers'].specimen as string[];
  const checkpoints = exp['checkpoints'] as Array<{
    index: number;
    step: number;
    fraction: number;
    probeAccuracy: number;
  }>;
  const slices: Array<Json> = [];
  for (const c of checkpoints)
    slices.push(await api(`/v1/experiments/${id}/tensor?measure=rho&checkpoint=${c.index}`));
  const rhoToFinal = layers.map((_, l) => slices.map((s) => s['values'][l][l] as number));
  // the checkpoints nearest 0 %, 3 %, 50 % and 99 % (never the final one for 99 %: Figure 1's panels)
  const picks = nearestCheckpoints(checkpoints, [0, 0.03, 0.5, 0.99]);
  console.log("\nrho of each layer to its own final version (the paper's Figure 2):");
  console.log(
    `${'layer'.padEnd(8)}${picks.map((c) => `${(c.fraction * 100).toFixed(1)}%`.padStart(10)).join('')}`,
  );
  layers.forEach((name, l) => {
    console.log(
      `${name.padEnd(8)}${picks.map((c) => rhoToFinal[l][c.index].toFixed(3).padStart(10)).join('')}`,
    );
  });
  const analysis = await api(`/v1/experiments/${id}/analysis`);
  const conv = analysis['convergence'];
  console.log(
    `\nconvergence (first fraction with rho ≥ ${conv.threshold}): ${(conv.layers as Json[])
      .map((l) => `${l.layer} ${l.convergedAt === null ? 'never' : `${(l.convergedAt * 100).toFixed(1)}%`}`)
      .join(', ')}`,
  );
  console.log(
    `bottom-up verdict (layers below the logits): ${conv.verdict} (Spearman ${conv.spearman?.toFixed(2)})`,
  );
  const crawl = analysis['crawl'];
  console.log(
    `crawl of ${crawl.layer}: most similar final layer over training: ${(crawl.steps as Json[])
      .map((s) => `${(s.fraction * 100).toFixed(1)}%→${s.mostSimilar}`)
      .join(', ')}; verdict ${crawl.verdict}`,
  );
  console.log(`final probe accuracy: ${(checkpoints.at(-1)!.probeAccuracy * 100).toFixed(1)}%`);

  mkdirSync(OUT, { recursive: true });
  const download = async (path: string, file: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    writeFileSync(join(OUT, file), Buffer.from(await res.arrayBuffer()));
  };
  const figures = `/v1/experiments/${id}/figures`;
  await download(`${figures}/heatmaps.svg?fractions=0,0.03,0.5,0.99`, 'figure1-heatmaps.svg');
  await download(`${figures}/convergence.svg`, 'figure2-convergence.svg');
  await download(`${figures}/crawl.svg?layer=${crawl.layer}`, 'figure3-crawl.svg');
  await download(`/v1/experiments/${id}/tensor?measure=rho&format=npy`, 'rho.npy');
  writeFileSync(join(OUT, 'experiment.json'), `${JSON.stringify({ experiment: exp, analysis }, null, 2)}\n`);

  // The reproduction report: the tensor with each cell's null, read from the database.
  const cells = await db.cell.findMany({
    where: { experimentId: id },
    select: { refLayer: true, specLayer: true, checkpoint: true, rho: true, rhoNull: true },
  });
  const data = figureDataFromCells({
    refLayers: exp['layers'].reference,
    specLayers: layers,
    checkpoints: checkpoints.map((c) => ({ index: c.index, step: c.step, fraction: c.fraction })),
    cells,
    baseline: exp['summary']?.baseline,
  });
  type Detail = {
    name: string;
    features: number;
    samples: number;
    reduction: string | null;
    reductionDetail: string | null;
  };
  const details = (network: 'reference' | 'specimen') =>
    ((exp['layerDetails']?.[network] ?? []) as Detail[]).map((d) => ({ ...d, network }));
  const all = [...details('reference'), ...details('specimen')];
  const warnings: AnalysisWarning[] = Array.isArray(exp['warnings'])
    ? (exp['warnings'] as AnalysisWarning[])
    : dedupeWarnings([
        ...layerWarnings(
          all.map((d) => ({ network: d.network, name: d.name, width: d.features, samples: d.samples })),
        ),
        ...convReductionWarnings(all),
      ]);
  const reductions = Object.fromEntries(
    all
      .filter((d) => d.reduction && d.reduction !== 'none')
      .map((d) => [d.name, d.reductionDetail ?? d.reduction ?? '']),
  );
  const run = spec.reference;
  const seconds = (Date.now() - t0) / 1000;
  const report = reproductionReport({
    title: spec.name,
    setting: [
      `network: ${run.architecture.preset} on ${run.dataset}, Net_S = Net_R (each layer during training vs the final network)`,
      `training: ${run.training.epochs} epoch(s) over ${run.training.trainExamples} examples, batch ${run.training.batchSize}, ${run.training.optimizer.type} lr ${run.training.optimizer.learningRate}, seed ${run.training.seed}: ${checkpoints.at(-1)!.step} steps`,
      `checkpoints: ${checkpoints.length} (${run.checkpoints.spacing}-spaced, the last but one at ${((checkpoints.at(-2)?.fraction ?? 1) * 100).toFixed(1)} %), steps ${checkpoints.map((c) => c.step).join(', ')}`,
      `probe set: ${spec.probe.examples} ${spec.probe.split} examples (n); final probe accuracy ${(checkpoints.at(-1)!.probeAccuracy * 100).toFixed(1)} %`,
      `experiment ${id}, finished in ${seconds.toFixed(0)} s on this machine (${exp['backend'] ?? 'unknown backend'})`,
    ],
    data,
    analysis: analysis as ReportAnalysis,
    warnings,
    reductions,
  });
  writeFileSync(join(OUT, 'report.md'), `${report.markdown}\n`);
  // A read-only link for the page: the demo's own API stops with it, so the link names the service
  // `npm start` runs (PORT, default 8080) on the same database, where the token stays valid.
  const share = await api(`/v1/experiments/${id}/shares`, { method: 'POST' });
  await db.$disconnect();
  console.log("\nthe paper's claims in this run (demo-output/report.md):");
  for (const c of report.claims)
    console.log(
      `  ${c.claim.padEnd(32)} ${c.holds === null ? 'undecided' : c.holds ? 'holds' : 'does not hold'}`,
    );
  console.log(
    `\nwrote ${OUT}/: report.md, figure1-heatmaps.svg, figure2-convergence.svg, figure3-crawl.svg, rho.npy [refLayer, specLayer, checkpoint], experiment.json`,
  );
  console.log(`demo finished in ${seconds.toFixed(0)} s`);
  console.log(
    `\nopen it in the page (start the service first with \`npm start\`; no key needed):\n  http://127.0.0.1:${config.port}${share['pageUrl']}`,
  );
  console.log(
    `a key for the demo's team (to submit, cancel or delete from the page or the CLI):\n  npx repdyn admin create-key --team ${team} --role admin`,
  );
  shutdown(0);
}

main().catch((err) => {
  console.error(`repdyn demo: ${err instanceof Error ? err.message : String(err)}`);
  shutdown(1);
});
