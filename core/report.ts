// The reproduction report (`npm run demo` writes demo-output/report.md): for each of the paper's
// claims, the numbers this run measured, the null they are judged against, and whether the claim
// holds, in plain words. Pure: it reads a figure tensor (rho, and the per-cell null where stored),
// the analysis endpoint's answer and a few facts about the run.
import { type AnalysisWarning, formatWarning } from './analysis/warnings.ts';
import { nearestCheckpoints } from './figures/heatmaps.ts';
import type { ScoredData } from './figures/notes.ts';
import { percent } from './figures/render.ts';

/** The parts of GET …/analysis the report reads (older and newer fields alike are optional). */
export interface ReportAnalysis {
  convergence: {
    threshold: number;
    verdict: string;
    spearman: number | null;
    layers: Array<{ layer: string; convergedAt: number | null }>;
    reason?: string | null;
    reasons?: string[];
    score?: string;
  };
  crawl: {
    layer: string;
    verdict: string;
    steps: Array<{
      fraction: number;
      mostSimilar: string | null;
      rho?: number | null;
      score?: number | null;
    }>;
    reason?: string | null;
    reasons?: string[];
    score?: string;
    /** final layers and checkpoints the crawl left out, and why */
    excluded?: Array<{ code: string; reason: string; layer?: string; checkpoint?: number }>;
  };
}

export interface ReportInput {
  title: string;
  /** the setting in words: network, data, training, probe, checkpoints */
  setting: string[];
  data: ScoredData;
  analysis: ReportAnalysis;
  warnings?: AnalysisWarning[];
  /** layer → how it was reduced (conv layers) */
  reductions?: Record<string, string>;
}

export interface ClaimResult {
  claim: string;
  holds: boolean | null;
  /** one sentence: the numbers and the verdict */
  summary: string;
}

const f3 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3);
const mean = (xs: Array<number | null>) => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
};

/** The null of cell (i, j, t): the per-cell permutation null where stored, else the Gaussian baseline. */
function nullOf(data: ScoredData, i: number, j: number, t: number): number | null {
  return data.rhoNull?.(i, j, t) ?? data.baseline?.(i, j) ?? null;
}

function nullName(data: ScoredData): string {
  return data.rhoNull
    ? "the permutation null (rho with the specimen's rows shuffled: same n, widths and spectra)"
    : 'the random baseline (rho of Gaussian data with the same n and widths)';
}

/** Layers both networks share by name: [name, ref index, spec index]. */
function shared(data: ScoredData): Array<[string, number, number]> {
  return data.specLayers
    .map((name, j) => [name, data.refLayers.indexOf(name), j] as [string, number, number])
    .filter(([, i]) => i >= 0);
}

const isHidden = (name: string) => name !== 'input' && name !== 'logits';

/** Builds the report: a Markdown document and the per-claim results it states. */
export function reproductionReport(input: ReportInput): { markdown: string; claims: ClaimResult[] } {
  const { data, analysis } = input;
  const panels = nearestCheckpoints(data.checkpoints, [0, 0.03, 0.5, 0.99]);
  const pairs = shared(data);
  const trained = pairs.filter(([name]) => name !== 'input');
  const lines: string[] = [];
  const claims: ClaimResult[] = [];
  const out = (...l: string[]) => lines.push(...l);

  out(`# Reproduction report: ${input.title}`, '');
  out(...input.setting.map((s) => `- ${s}`), '');
  out(
    `Every similarity below is judged against ${nullName(data)}; the adjusted score is (rho − null) / (1 − null):`,
    '0 means "no more similar than unrelated data", 1 means identical. Panels are the checkpoints nearest 0 %, 3 %,',
    `50 % and 99 % of training: ${panels.map((c) => `${percent(c.fraction)} (step ${c.step})`).join(', ')}.`,
    '',
  );

  // Claim 1: Figure 1's diagonal brightens over training.
  out('## 1. Figure 1: the diagonal brightens (each layer becomes more like its final self)', '');
  out('| panel | step | mean diagonal rho | mean null | mean adjusted |', '| --- | --- | --- | --- | --- |');
  const diag = panels.map((c) => {
    const rho = mean(trained.map(([, i, j]) => data.rho(i, j, c.index)));
    const nul = mean(trained.map(([, i, j]) => nullOf(data, i, j, c.index)));
    const adj = rho !== null && nul !== null && nul < 1 ? (rho - nul) / (1 - nul) : null;
    out(`| ${percent(c.fraction)} | ${c.step} | ${f3(rho)} | ${f3(nul)} | ${f3(adj)} |`);
    return { rho, adj };
  });
  const first = diag[0]?.rho ?? null;
  const last = diag[diag.length - 1]?.rho ?? null;
  const rising = diag.every((d, k) => k === 0 || (d.rho ?? 0) >= (diag[k - 1].rho ?? 0) - 0.01);
  const holds1 = first !== null && last !== null && diag.length >= 2 ? rising && last - first > 0.05 : null;
  const s1 =
    holds1 === null
      ? 'Not enough checkpoints to tell.'
      : `The mean diagonal rho of the trained layers goes from ${f3(first)} to ${f3(last)} across the panels` +
        `${rising ? ', rising at every panel' : ', but not at every panel'}; the claim ${holds1 ? 'holds' : 'does not hold'} in this run.`;
  out(
    '',
    `(Layers: ${trained.map(([n]) => n).join(', ')}; the input is left out, it is the same data at every checkpoint.) ${s1}`,
    '',
  );
  claims.push({ claim: 'Figure 1 diagonal brightening', holds: holds1, summary: s1 });

  // Claim 2: bottom-up convergence.
  const conv = analysis.convergence;
  out('## 2. Figure 2: layers converge bottom-up', '');
  out(
    `| layer | ${panels.map((c) => `rho at ${percent(c.fraction)}`).join(' | ')} | null at ${percent(panels.at(-1)?.fraction ?? 1)} | first reaches ${conv.threshold} |`,
    `| --- | ${panels.map(() => '---').join(' | ')} | --- | --- |`,
  );
  for (const [name, i, j] of pairs) {
    const at = conv.layers.find((l) => l.layer === name)?.convergedAt;
    const lastPanel = panels.at(-1);
    out(
      `| ${name} | ${panels.map((c) => f3(data.rho(i, j, c.index))).join(' | ')} | ${f3(lastPanel ? nullOf(data, i, j, lastPanel.index) : null)} | ${at === null || at === undefined ? 'never' : percent(at)} |`,
    );
  }
  const reasons2 = [conv.reason, ...(conv.reasons ?? [])].filter(Boolean);
  const holds2 = conv.verdict === 'bottom-up' ? true : conv.verdict === 'inconclusive' ? null : false;
  const s2 =
    `The analysis answers \`${conv.verdict}\`` +
    (conv.spearman === null
      ? ''
      : ` (Spearman correlation of convergence time with depth ${conv.spearman.toFixed(2)})`) +
    (reasons2.length ? `; reasons: ${reasons2.join('; ')}` : '') +
    `: the claim ${holds2 === true ? 'holds' : holds2 === false ? 'does not hold' : 'cannot be decided'} in this run.`;
  out('', s2, '');
  claims.push({ claim: 'Figure 2 bottom-up order', holds: holds2, summary: s2 });

  // Claim 3: the logits behave differently from the hidden layers.
  out('## 3. The logit layer behaves differently', '');
  const logits = pairs.find(([name]) => name === 'logits');
  const hidden = pairs.filter(([name]) => isHidden(name));
  let holds3: boolean | null = null;
  let s3 = 'No logits layer shared by both networks.';
  if (logits && hidden.length > 0) {
    const curve = (i: number, j: number) => data.checkpoints.slice(0, -1).map((c) => data.rho(i, j, c.index));
    const lc = curve(logits[1], logits[2]);
    const hc = data.checkpoints
      .slice(0, -1)
      .map((c) => mean(hidden.map(([, i, j]) => data.rho(i, j, c.index))));
    const gaps = lc.map((v, k) => (v === null || hc[k] === null ? null : v - (hc[k] as number)));
    const meanGap = mean(gaps.map((g) => (g === null ? null : Math.abs(g))));
    const at = (name: string) => conv.layers.find((l) => l.layer === name)?.convergedAt ?? null;
    const lAt = at('logits');
    const hiddenAts = hidden.map(([n]) => at(n));
    const outOfOrder = lAt !== null && hiddenAts.some((h) => h === null || h > lAt);
    out(
      '| checkpoint | logits rho to final | mean of hidden layers | difference |',
      '| --- | --- | --- | --- |',
    );
    data.checkpoints.slice(0, -1).forEach((c, k) => {
      if (!panels.includes(c)) return;
      out(`| ${percent(c.fraction)} | ${f3(lc[k])} | ${f3(hc[k])} | ${f3(gaps[k])} |`);
    });
    holds3 = meanGap !== null ? meanGap >= 0.1 || outOfOrder : null;
    s3 =
      `Over the checkpoints before the end, the logits' rho to their final version differs from the hidden layers' mean by ${f3(meanGap)} on average` +
      `${outOfOrder ? ', and the logits reach the threshold before a lower hidden layer (out of depth order)' : ''}` +
      `; the claim (a difference of at least 0.1, or out of order) ${holds3 === null ? 'cannot be decided' : holds3 ? 'holds' : 'does not hold'} in this run.`;
  }
  out('', s3, '');
  claims.push({ claim: 'logits behave differently', holds: holds3, summary: s3 });

  // Claim 4: the top-down crawl.
  const crawl = analysis.crawl;
  out(`## 4. Figure 3: the top layer (${crawl.layer}) first resembles lower final layers (crawl)`, '');
  const j = data.specLayers.indexOf(crawl.layer);
  out('| checkpoint | most similar final layer | its score | its null |', '| --- | --- | --- | --- |');
  for (const step of crawl.steps) {
    const c = data.checkpoints.find((x) => x.fraction === step.fraction);
    const i = step.mostSimilar === null ? -1 : data.refLayers.indexOf(step.mostSimilar);
    const score = step.score ?? step.rho ?? null;
    out(
      `| ${percent(step.fraction)} | ${step.mostSimilar ?? '–'} | ${f3(score)} | ${f3(c && i >= 0 && j >= 0 ? nullOf(data, i, j, c.index) : null)} |`,
    );
  }
  // the candidates left out (the logits, an input that resembles any layer by construction, …)
  const leftOut = (crawl.excluded ?? []).filter((e) => e.layer !== undefined);
  if (leftOut.length > 0) {
    out(
      '',
      'Final layers left out as candidates:',
      ...leftOut.map((e) => `- ${e.layer} (\`${e.code}\`): ${e.reason}`),
    );
  }
  const reasons4 = [crawl.reason, ...(crawl.reasons ?? [])].filter(Boolean);
  const holds4 = crawl.verdict === 'crawl' ? true : crawl.verdict === 'inconclusive' ? null : false;
  const s4 =
    `Scores are ${crawl.score ? `\`${crawl.score}\`` : 'rho'}. The analysis answers \`${crawl.verdict}\`` +
    (reasons4.length ? `; reasons: ${reasons4.join('; ')}` : '') +
    `: the claim ${holds4 === true ? 'holds' : holds4 === false ? 'does not hold' : 'cannot be decided'} in this run.`;
  out('', s4, '');
  claims.push({ claim: 'Figure 3 crawl', holds: holds4, summary: s4 });

  out('## Summary', '', '| claim | holds in this run |', '| --- | --- |');
  for (const c of claims) out(`| ${c.claim} | ${c.holds === null ? 'undecided' : c.holds ? 'yes' : 'no'} |`);
  out('');
  const reductions = Object.entries(input.reductions ?? {});
  if (reductions.length > 0) {
    out('## Conv layers', '', ...reductions.map(([name, r]) => `- ${name}: ${r}`), '');
  }
  const warnings = input.warnings ?? [];
  out(
    '## Warnings',
    '',
    ...(warnings.length ? warnings.map((w) => `- ${formatWarning(w)}`) : ['- none']),
    '',
  );
  return { markdown: lines.join('\n'), claims };
}
