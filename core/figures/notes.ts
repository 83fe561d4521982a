// What a figure states besides its data: the number of samples, the measure plotted, the null it is
// judged against, how conv layers were reduced, and the experiment's warnings, written as lines of
// text under the plot (a figure copied into a paper or a chat keeps them).
import { type AnalysisWarning, formatWarning } from '../analysis/warnings.ts';
import type { FigureData } from './types.ts';

/** Facts about the experiment that the tensor alone does not carry. */
export interface FigureNotes {
  /** Net_S = Net_R ('same': the specimen is the reference network earlier in training) or two networks */
  networks?: 'same' | 'different';
  /** samples (rows) CCA saw, per layer name; several values when conv positions are samples */
  samples?: Record<string, number>;
  /** how each conv-shaped layer became a [samples, features] matrix (see core/cca/conv.ts) */
  reductions?: Record<string, string>;
  /** samples of the conv-vs-conv pairs when they use positions as samples (summary.pairReductions) */
  convPairSamples?: number;
  /** the experiment's warnings (core/analysis/warnings.ts), written under the figure */
  warnings?: AnalysisWarning[];
}

/** The score a line figure plots: rho, or the adjusted score (rho - null) / (1 - null). */
export type FigureScore = 'rho' | 'rho_adjusted';

/** A tensor that may carry the per-cell null and adjusted score (added by the analysis). */
export type ScoredData = FigureData & {
  rhoNull?: (i: number, j: number, t: number) => number | null;
  adjusted?: (i: number, j: number, t: number) => number | null;
};

/** The score actually plotted: the adjusted one only where the tensor has it. */
export function resolveScore(data: ScoredData, wanted: FigureScore | undefined): FigureScore {
  if (wanted === 'rho') return 'rho';
  return data.adjusted ? 'rho_adjusted' : 'rho';
}

export function scoreAccessor(
  data: ScoredData,
  score: FigureScore,
): (i: number, j: number, t: number) => number | null {
  return score === 'rho_adjusted' && data.adjusted ? data.adjusted : data.rho;
}

export const SCORE_TITLE: Record<FigureScore, string> = {
  rho: 'rho (mean CCA coefficient)',
  rho_adjusted: 'adjusted score (rho − null) / (1 − null)',
};

/** The null the figure's cells are judged against, in words. */
export function nullText(data: ScoredData): string {
  return data.rhoNull
    ? "permutation null per cell (rho with the specimen's rows shuffled: same n, widths and spectra)"
    : 'random baseline (rho of Gaussian data with the same n and widths)';
}

/** "n = 2500 samples" or "n = 2500 samples (conv1, conv2: 20000 positions)". */
export function samplesText(notes: FigureNotes): string | null {
  const entries = Object.entries(notes.samples ?? {});
  if (entries.length === 0) return null;
  const counts = new Map<number, string[]>();
  for (const [name, n] of entries) counts.set(n, [...(counts.get(n) ?? []), name]);
  const sorted = [...counts.entries()].sort((a, b) => b[1].length - a[1].length || a[0] - b[0]);
  const [main, ...rest] = sorted;
  const others = rest.map(([n, names]) => `${names.join(', ')}: ${n}`).join('; ');
  const pairs =
    notes.convPairSamples !== undefined
      ? `; conv-vs-conv pairs: ${notes.convPairSamples} (example, position) rows`
      : '';
  return `n = ${main[0]} samples per layer${others ? ` (${others})` : ''}${pairs}`;
}

/** "conv reduction: input flatten, conv1 positions (8×8 grid) …" or null when no layer was reduced. */
export function reductionText(notes: FigureNotes): string | null {
  const entries = Object.entries(notes.reductions ?? {}).filter(([, r]) => r !== 'none');
  if (entries.length === 0) return null;
  return `conv layers reduced: ${entries.map(([name, r]) => `${name} → ${r}`).join(' · ')}`;
}

/** Splits text into lines of at most `width` characters at spaces (a longer word stays whole). */
export function wrap(text: string, width = 120): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** ["measure: … · n = …", "null: …"]: what every figure states in its subtitle. */
export function factsText(data: ScoredData, notes: FigureNotes, measure: string): string[] {
  return [
    [`measure: ${measure}`, samplesText(notes)].filter((s): s is string => s !== null).join(' · '),
    `null: ${nullText(data)}`,
  ];
}

/** The lines written under a figure: how conv layers were reduced, then the warnings. */
export function footerLines(
  notes: FigureNotes,
  width = 120,
): Array<{ line: number; text: string; kind: 'fact' | 'warning' }> {
  const facts = [reductionText(notes)].filter((s): s is string => s !== null);
  const out: Array<{ text: string; kind: 'fact' | 'warning' }> = [];
  for (const f of facts) for (const l of wrap(f, width)) out.push({ text: l, kind: 'fact' });
  const warnings = notes.warnings ?? [];
  if (warnings.length > 0) {
    out.push({ text: `${warnings.length} warning${warnings.length === 1 ? '' : 's'}:`, kind: 'warning' });
    for (const w of warnings) {
      wrap(`• ${formatWarning(w)}`, width).forEach((l, k) => {
        out.push({ text: k === 0 ? l : `   ${l}`, kind: 'warning' });
      });
    }
  }
  return out.map((o, line) => ({ line, ...o }));
}

/** A text-only Vega-Lite view of the footer lines, `width` pixels wide (none: no lines). */
export function footerSpecs(
  lines: ReturnType<typeof footerLines>,
  width: number,
): Array<Record<string, unknown>> {
  if (lines.length === 0) return [];
  return [
    {
      width,
      view: { stroke: null },
      height: { step: 14 },
      data: { values: lines },
      encoding: {
        x: { value: 0 },
        y: { field: 'line', type: 'ordinal', axis: null },
        text: { field: 'text', type: 'nominal' },
      },
      layer: (['fact', 'warning'] as const).map((kind) => ({
        transform: [{ filter: `datum.kind === '${kind}'` }],
        mark: {
          type: 'text',
          align: 'left',
          baseline: 'middle',
          fontSize: 10.5,
          color: kind === 'fact' ? '#333333' : '#a33a00',
        },
      })),
    },
  ];
}
