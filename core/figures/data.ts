// Builds FigureData from stored cells and the experiment's random-baseline summary.
import { adjustedScore } from '../analysis/warnings.ts';
import type { Baseline } from '../contracts/summary.ts';
import type { FigureCheckpoint, FigureData, RhoCell } from './types.ts';

export function figureDataFromCells(input: {
  refLayers: string[];
  specLayers: string[];
  checkpoints: FigureCheckpoint[];
  cells: RhoCell[];
  /** summary.baseline as the worker writes it (absent: no baseline) */
  baseline?: Baseline;
}): FigureData {
  const { refLayers, specLayers, checkpoints, cells } = input;
  const byIndex = new Map(checkpoints.map((c) => [c.index, c] as const));
  const maxT = Math.max(-1, ...checkpoints.map((c) => c.index)) + 1;
  // rho: [refLayer, specLayer, checkpoint] flattened; NaN marks a missing cell
  const rho = new Float64Array(refLayers.length * specLayers.length * maxT).fill(Number.NaN);
  const nulls = new Float64Array(rho.length).fill(Number.NaN);
  const ranks = new Int32Array(2 * rho.length).fill(-1);
  let anyRank = false;
  let anyNull = false;
  const slot = (i: number, j: number, t: number) => (i * specLayers.length + j) * maxT + t;
  const inRange = (i: number, j: number, t: number) =>
    i >= 0 && i < refLayers.length && j >= 0 && j < specLayers.length && byIndex.has(t);
  for (const c of cells) {
    if (!inRange(c.refLayer, c.specLayer, c.checkpoint)) continue;
    if (c.rho !== null) rho[slot(c.refLayer, c.specLayer, c.checkpoint)] = c.rho;
    if (typeof c.rankRef === 'number' && typeof c.rankSpec === 'number') {
      const k = 2 * slot(c.refLayer, c.specLayer, c.checkpoint);
      ranks[k] = c.rankRef;
      ranks[k + 1] = c.rankSpec;
      anyRank = true;
    }
    if (typeof c.rhoNull === 'number' && Number.isFinite(c.rhoNull)) {
      nulls[slot(c.refLayer, c.specLayer, c.checkpoint)] = c.rhoNull;
      anyNull = true;
    }
  }
  const rhoAt = (i: number, j: number, t: number) => {
    if (!inRange(i, j, t)) return null;
    const v = rho[slot(i, j, t)];
    return Number.isNaN(v) ? null : v;
  };
  const nullAt = (i: number, j: number, t: number) => {
    if (!inRange(i, j, t)) return null;
    const v = nulls[slot(i, j, t)];
    return Number.isNaN(v) ? null : v;
  };
  const table = Array.isArray(input.baseline) ? input.baseline : null;
  return {
    refLayers,
    specLayers,
    checkpoints: [...checkpoints].sort((a, b) => a.fraction - b.fraction || a.index - b.index),
    rho: rhoAt,
    ...(anyNull && {
      rhoNull: nullAt,
      adjusted: (i: number, j: number, t: number) => adjustedScore(rhoAt(i, j, t), nullAt(i, j, t)),
    }),
    ...(anyRank && {
      ranks: (i: number, j: number, t: number): [number, number] | null => {
        if (!inRange(i, j, t)) return null;
        const k = 2 * slot(i, j, t);
        return ranks[k]! < 0 ? null : [ranks[k]!, ranks[k + 1]!];
      },
    }),
    baseline: table
      ? (i, j) => {
          const v = table[i]?.[j]?.rho;
          return typeof v === 'number' && Number.isFinite(v) ? v : null;
        }
      : undefined,
  };
}
