// What the figure and analysis routes (server/routes/v1/experiments/results-figures.ts) answer from:
// a finished experiment's tensor read once with its figure notes and the verdicts' context, and each
// figure sized against the limits, rendered, and cached (finished tensors never change).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.ts';
import { convReductionWarnings } from '../core/analysis/conv-reduction.ts';
import { experimentWarnings } from '../core/analysis/crawl.ts';
import type { AnalysisContext } from '../core/analysis/evidence.ts';
import { analysisContext } from '../core/analysis/index.ts';
import { dedupeWarnings } from '../core/analysis/warnings.ts';
import { fromJson } from '../core/contracts/json.ts';
import type { ExperimentSummary } from '../core/contracts/summary.ts';
import { figureDataFromCells } from '../core/figures/data.ts';
import type { FigureNotes } from '../core/figures/notes.ts';
import type { FigureData } from '../core/figures/types.ts';
import type { Db } from '../store/db.ts';
import { figureCells } from '../store/experiments.ts';
import { experimentHead, readableRow } from './access.ts';
import { LruCache } from './lru.ts';
import { HttpError } from './schemas/error.ts';
import type { ExperimentRow } from './views.ts';

/** Rendered figures of finished experiments (immutable), most recently used kept: 256 or 64 MiB. */
const figureCache = new LruCache<string>(256, 64 * 1024 * 1024);
/** A finished experiment's tensor, its figure notes and the verdicts' context. */
export interface Tensor {
  data: FigureData;
  notes: FigureNotes;
  ctx: AnalysisContext;
}
/** Figure data of finished experiments (each figure and the analysis read it): 32 or ~64 MiB. */
const tensorCache = new LruCache<Tensor>(32, 64 * 1024 * 1024);

/** How many layers and checkpoints a figure of the experiment can draw. */
export interface FigureSize {
  refLayers: number;
  specLayers: number;
  checkpoints: number;
}

/** The experiment if readable and succeeded (409 otherwise). */
async function finishedRow(db: Db, request: FastifyRequest, id: string): Promise<ExperimentRow> {
  const row = await readableRow(db, await experimentHead(db, request, id));
  if (row.status !== 'succeeded') {
    throw new HttpError(
      409,
      'EXPERIMENT_NOT_FINISHED',
      `experiment is ${row.status}; figures and analysis need a succeeded experiment`,
      { status: row.status },
    );
  }
  return row;
}

/** The rho tensor of the figures, layers in order, with the random baseline of the summary. */
async function figureData(
  db: Db,
  row: ExperimentRow,
  summary: ExperimentSummary | null,
): Promise<FigureData> {
  const names = (network: 'reference' | 'specimen') =>
    row.layers
      .filter((l) => l.network === network)
      .sort((a, b) => a.index - b.index)
      .map((l) => l.name);
  const cells = await figureCells(db, row.id);
  return figureDataFromCells({
    refLayers: names('reference'),
    specLayers: names('specimen'),
    checkpoints: (row.specimenRun?.checkpoints ?? []).map((c) => ({
      index: c.index,
      step: c.step,
      fraction: c.fraction,
    })),
    cells,
    baseline: summary?.baseline,
  });
}

/** The tensor, what the figures state beside it (networks, n, reductions, warnings) and the verdicts' context. */
async function readTensor(db: Db, row: ExperimentRow): Promise<Tensor> {
  const summary = fromJson<ExperimentSummary | null>(row.summary);
  const data = await figureData(db, row, summary);
  const ordered = [...row.layers].sort((a, b) => a.index - b.index);
  const samples: Record<string, number> = {};
  const reductions: Record<string, string> = {};
  for (const l of ordered) {
    samples[l.name] = l.samples;
    if (l.reduction && l.reduction !== 'none') reductions[l.name] = l.reductionDetail ?? l.reduction;
  }
  const same = row.referenceRunId !== null && row.referenceRunId === row.specimenRunId;
  // the verdicts' context (layer sizes, kept ranks, Net_S = Net_R) and every warning: the layers'
  // and the cells' (null near 1), with the conv reductions
  const ctx = analysisContext(data, row.layers, same);
  const warnings = dedupeWarnings([...experimentWarnings(data, ctx), ...convReductionWarnings(ordered)]);
  // conv-vs-conv pairs on positions as samples: their own n
  const pairs = summary?.pairReductions;
  const positions = Array.isArray(pairs) ? pairs.find((p) => p.reduction === 'positions') : undefined;
  const notes = {
    networks: same ? ('same' as const) : ('different' as const),
    samples,
    reductions,
    warnings,
    ...(positions && { convPairSamples: positions.samples }),
  };
  return { data, notes, ctx };
}

/** The tensor and its notes for a finished experiment (immutable), read once and kept while recently used. */
async function tensorOf(db: Db, row: ExperimentRow): Promise<Tensor> {
  const key = `${row.id}|${row.finishedAt?.toISOString()}`;
  const hit = tensorCache.get(key);
  if (hit) return hit;
  const read = await readTensor(db, row);
  const { data } = read;
  const cells = data.refLayers.length * data.specLayers.length * Math.max(1, data.checkpoints.length);
  tensorCache.set(key, read, cells * 64);
  return read;
}

/** The tensor of experiment `id` if readable and succeeded (409 otherwise). */
export async function finishedTensor(db: Db, request: FastifyRequest, id: string): Promise<Tensor> {
  return tensorOf(db, await finishedRow(db, request, id));
}

const sendSvg = (reply: FastifyReply, svg: string) =>
  reply.type('image/svg+xml; charset=utf-8').header('cache-control', 'private, max-age=300').send(svg);

/** A figure's cache key: the experiment, the route and its query without the share token. */
function figureKey(row: ExperimentRow, request: FastifyRequest): string {
  const query = Object.entries(request.query as Record<string, unknown>)
    .filter(([k]) => k !== 'share')
    .sort(([a], [b]) => a.localeCompare(b));
  return `${row.id}|${row.finishedAt?.toISOString()}|${request.routeOptions.url}|${JSON.stringify(query)}`;
}

function figureSize(row: ExperimentRow): FigureSize {
  return {
    refLayers: row.layers.filter((l) => l.network === 'reference').length,
    specLayers: row.layers.filter((l) => l.network === 'specimen').length,
    checkpoints: Math.max(1, row.specimenRun?.checkpoints.length ?? row.checkpointCount),
  };
}

/** 422 LIMIT_FIGURE_CELLS when the figure would draw more than MAX_FIGURE_CELLS cells or points. */
function checkFigureCells(n: number, limits: Config['limits']): void {
  if (n > limits.figureCells) {
    throw new HttpError(
      422,
      'LIMIT_FIGURE_CELLS',
      `the figure would draw ${n} cells or points, above the limit of ${limits.figureCells} (MAX_FIGURE_CELLS); ask for fewer panels, or read the tensor instead`,
      { field: 'figure', limit: limits.figureCells, value: n },
    );
  }
}

/** 422 LIMIT_FIGURE_BYTES when the rendered SVG is larger than MAX_FIGURE_BYTES. */
function checkFigureBytes(bytes: number, limits: Config['limits']): void {
  if (bytes > limits.figureBytes) {
    throw new HttpError(
      422,
      'LIMIT_FIGURE_BYTES',
      `the figure is ${bytes} bytes of SVG, above the limit of ${limits.figureBytes} (MAX_FIGURE_BYTES)`,
      { field: 'figure', limit: limits.figureBytes, value: bytes },
    );
  }
}

/**
 * One figure of a finished experiment: answered from the cache when drawn before; otherwise sized
 * first (`marks`: heatmap cells or line points, from the layer and checkpoint counts; 422
 * LIMIT_FIGURE_CELLS above MAX_FIGURE_CELLS, before the tensor is read), rendered on a worker
 * thread, refused above MAX_FIGURE_BYTES (422 LIMIT_FIGURE_BYTES) and cached.
 */
export async function figure(
  deps: { db: Db; config: Config },
  request: FastifyRequest,
  reply: FastifyReply,
  marks: (size: FigureSize) => number,
  render: (data: FigureData, notes: FigureNotes) => Promise<string>,
) {
  const row = await finishedRow(deps.db, request, (request.params as { id: string }).id);
  const key = figureKey(row, request);
  const hit = figureCache.get(key);
  if (hit !== undefined) return sendSvg(reply, hit);
  checkFigureCells(marks(figureSize(row)), deps.config.limits);
  const { data, notes } = await tensorOf(deps.db, row);
  const svg = await render(data, notes);
  const bytes = Buffer.byteLength(svg);
  checkFigureBytes(bytes, deps.config.limits);
  figureCache.set(key, svg, bytes);
  return sendSvg(reply, svg);
}
