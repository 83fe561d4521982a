// The pipeline's phase functions that need no database, queue or clock (a unit test): the summary
// builder (worker/processors/summary.ts) and the tensor phase's blocks and progress
// (worker/processors/tensor.ts). test/worker/processor.test.ts runs the phases end to end.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convPairPasses } from '../../core/analysis/conv-reduction.ts';
import type { RepresentationInfo } from '../../core/train/store.ts';
import {
  experimentSummary,
  NULL_SEED,
  rhoToFinal,
  type SummaryInput,
} from '../../worker/processors/summary.ts';
import { cellProgress, missingBlocks, tensorBlocks } from '../../worker/processors/tensor.ts';

const layer = (name: string, features: number, samples = 400): RepresentationInfo => ({
  name,
  kind: 'dense',
  features,
  samples,
});

/** 2 reference layers (a, b) × 2 specimen layers (b, c) × 3 checkpoints; rho = i/j/t encoded. */
function input(overrides: Partial<SummaryInput> = {}): SummaryInput {
  const refInfo = [layer('a', 8), layer('b', 4)];
  const specInfo = [layer('b', 4), layer('c', 100, 400)];
  const storedCells = [];
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 2; j++)
      for (let t = 0; t < 3; t++)
        storedCells.push({
          refLayer: i,
          specLayer: j,
          checkpoint: t,
          rho: i + j / 10 + t / 100,
          rhoNull: 0.1,
        });
  return {
    cells: 12,
    seconds: 1.5,
    source: 'trained',
    runs: [
      { reused: true, resumedFromStep: null },
      { reused: false, resumedFromStep: 40 },
    ],
    cellsStoredBefore: 5,
    cellsComputed: 7,
    parts: undefined,
    refLayers: refInfo.map((l) => l.name),
    specLayers: specInfo.map((l) => l.name),
    checkpoints: 3,
    refInfo,
    specInfo,
    sameRun: false,
    storedCells,
    specCheckpoints: [0, 1, 2].map((t) => ({ index: t, step: t * 10, fraction: t / 2 })),
    baseline: [
      [
        { rho: 0.3, cka: 0.1 },
        { rho: 0.2, cka: null },
      ],
      [
        { rho: 0.25, cka: 0.05 },
        { rho: 0.4, cka: 0.2 },
      ],
    ],
    samples: 400,
    passes: convPairPasses(refInfo, specInfo),
    ...overrides,
  };
}

describe('summary phase (pure part)', () => {
  it('keeps the stored summary keys, in the order the API has always served them', () => {
    assert.deepEqual(Object.keys(experimentSummary(input())), [
      'cells',
      'seconds',
      'reusedRuns',
      'source',
      'finalAttempt',
      'layers',
      'baseline',
      'samples',
      'warnings',
      'null',
      'pairReductions',
    ]);
  });

  it("reports the attempt's runs and cells, and counts reused runs only for trained experiments", () => {
    const s = experimentSummary(input());
    assert.equal(s.cells, 12);
    assert.equal(s.seconds, 1.5);
    assert.equal(s.reusedRuns, 1);
    assert.equal(s.source, 'trained');
    assert.deepEqual(s.finalAttempt, {
      runs: [
        { reused: true, resumedFromStep: null },
        { reused: false, resumedFromStep: 40 },
      ],
      cellsStoredBefore: 5,
      cellsComputed: 7,
    });
    assert.deepEqual(s.null, { kind: 'permutation', seed: NULL_SEED });
    assert.equal(s.samples, 400);
    assert.deepEqual(s.baseline, input().baseline);
    // uploads' runs are marked reused (nothing trained) but the summary says 0 reused
    const upload = experimentSummary(input({ source: 'upload' }));
    assert.equal(upload.reusedRuns, 0);
    assert.equal(upload.source, 'upload');
  });

  it("lists a spread experiment's parts (even none), and has no parts key otherwise", () => {
    const parts = [
      { part: 'block' as const, worker: 'h:1', startedAt: 'x', finishedAt: 'y', from: 0, to: 2, cells: 8 },
    ];
    const spread = experimentSummary(input({ parts }));
    assert.deepEqual(spread.parts, parts);
    assert.deepEqual(Object.keys(spread).slice(4, 7), ['finalAttempt', 'parts', 'layers']);
    assert.deepEqual(experimentSummary(input({ parts: [] })).parts, []);
    assert.equal('parts' in experimentSummary(input()), false);
  });

  it("gives each specimen layer's rho to its own final version over training, null where the reference lacks it", () => {
    // specimen b (j = 0) is reference b (i = 1); specimen c has no reference layer of its name
    assert.deepEqual(rhoToFinal(input()), [
      { layer: 'b', rhoToFinal: [1, 1.01, 1.02] },
      { layer: 'c', rhoToFinal: null },
    ]);
    const missing = input();
    missing.storedCells = missing.storedCells.filter((c) => !(c.refLayer === 1 && c.checkpoint === 1));
    assert.deepEqual(rhoToFinal(missing)[0]!.rhoToFinal, [1, null, 1.02]);
  });

  it('stores the warnings and pair reductions of the layers and cells it was given', () => {
    const s = experimentSummary(input());
    // specimen c: 100 features for 400 samples is under 10 samples per feature
    const few = s.warnings.filter((w) => w.code === 'few-samples');
    assert.ok(
      few.some((w) => w.layer === 'c' && w.network === 'specimen'),
      JSON.stringify(s.warnings),
    );
    assert.ok(!few.some((w) => w.layer === 'a'), 'a: 400 samples for 8 features is enough');
    // every null near 1: each cell gets a null-near-one warning
    const nearOne = input();
    nearOne.storedCells = nearOne.storedCells.map((c) => ({ ...c, rhoNull: 0.99 }));
    assert.ok(experimentSummary(nearOne).warnings.some((w) => w.code === 'null-near-one'));
    assert.ok(!s.warnings.some((w) => w.code === 'null-near-one'), 'nulls of 0.1 are far from 1');
    assert.deepEqual(
      s.pairReductions?.map((p) => [p.reduction, p.pairs, p.samples]),
      [['layers', 4, 400]],
    );
  });
});

describe('tensor phase (blocks and progress)', () => {
  it('cuts the checkpoints into contiguous blocks covering each once', () => {
    assert.deepEqual(tensorBlocks(10, 4), [
      [0, 2],
      [2, 5],
      [5, 7],
      [7, 10],
    ]);
    assert.deepEqual(tensorBlocks(2, 4), [
      [0, 1],
      [1, 2],
    ]);
    assert.deepEqual(tensorBlocks(5, 0), [[0, 5]]);
  });

  it('hands out only the blocks with a cell missing', () => {
    const blocks = tensorBlocks(4, 2); // [0,2), [2,4)
    const have = new Set<string>();
    // 2 x 1 cells per checkpoint; checkpoints 0 and 1 complete, checkpoint 2 half
    for (const t of [0, 1]) for (const i of [0, 1]) have.add(`${i}/0/${t}`);
    have.add('0/0/2');
    assert.deepEqual(missingBlocks(blocks, have, 2), [[2, 4]]);
    for (const t of [2, 3]) for (const i of [0, 1]) have.add(`${i}/0/${t}`);
    assert.deepEqual(missingBlocks(blocks, have, 2), []);
    assert.deepEqual(missingBlocks(blocks, new Set(), 2), blocks);
  });

  it('fills the bar from training + baseline to 0.99 as cells are stored', () => {
    assert.deepEqual(cellProgress(0.7, 0, 64), { fraction: 0.7 + 0.02, message: 'computed 0/64 cells' });
    assert.equal(cellProgress(0.7, 32, 64).fraction, 0.7 + 0.02 + (0.97 - 0.7) * 0.5);
    assert.ok(Math.abs(cellProgress(0.7, 64, 64).fraction - 0.99) < 1e-12);
    assert.ok(Math.abs(cellProgress(0, 64, 64).fraction - 0.99) < 1e-12, 'uploads: no training share');
    assert.equal(cellProgress(0, 0, 64).fraction, 0.02);
  });
});
