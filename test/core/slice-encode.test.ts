// The pure slice encoder (core/slice-encode.ts) and selection (core/slice.ts): what GET …/tensor
// answers for a selection, without a database.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeNpy } from '../../core/npy.ts';
import { type SliceCheckpoint, SliceError, type SliceSelection, sliceSelection } from '../../core/slice.ts';
import { encodeSlice, type SliceReader } from '../../core/slice-encode.ts';

const CHECKPOINTS: SliceCheckpoint[] = [
  { index: 0, step: 0, fraction: 0 },
  { index: 1, step: 50, fraction: 0.5 },
  { index: 2, step: 100, fraction: 1 },
];

/** A distinct value per cell (ref, spec, checkpoint): 100·ref + 10·spec + checkpoint, as a fraction. */
const cellValue = (r: number, s: number, t: number) => (100 * r + 10 * s + t) / 1000;

/** Every cell computed, except those in `missing` ("r/s/t"); coefficient vectors of `lengths`. */
function reader(missing: string[] = [], lengths: Record<string, number> = {}): SliceReader {
  const has = (r: number, s: number, t: number) => !missing.includes(`${r}/${s}/${t}`);
  return {
    value: (r, s, t) => (has(r, s, t) ? cellValue(r, s, t) : null),
    coefficients: (r, s, t) => {
      if (!has(r, s, t)) return new Float64Array(0);
      const n = lengths[`${r}/${s}/${t}`] ?? 2;
      return Float64Array.from({ length: n }, (_, k) => cellValue(r, s, t) + k / 4);
    },
  };
}

function selection(over: Partial<SliceSelection> = {}): SliceSelection {
  return {
    refSel: [1, 0],
    specSel: [0, 2, 1],
    refLabels: ['r1', 'r0'],
    specLabels: ['s0', 's2', 's1'],
    picked: [CHECKPOINTS[0], CHECKPOINTS[2]],
    single: false,
    ...over,
  };
}

const json = (body: Buffer) => JSON.parse(body.toString('utf8'));

describe('encodeSlice', () => {
  it('nests JSON values as [refLayer][specLayer][checkpoint], in the order asked, null where not computed', () => {
    const out = encodeSlice(selection(), reader(['0/1/2']), 'rho', 'json');
    assert.equal(out.contentType, 'application/json; charset=utf-8');
    const body = json(out.body);
    assert.deepEqual(body.shape, [2, 3, 2]);
    assert.deepEqual(out.shape, [2, 3, 2]);
    assert.deepEqual(body.axes, ['refLayer', 'specLayer', 'checkpoint']);
    assert.equal(body.measure, 'rho');
    assert.deepEqual(body.labels, {
      refLayer: ['r1', 'r0'],
      specLayer: ['s0', 's2', 's1'],
      checkpoint: [CHECKPOINTS[0], CHECKPOINTS[2]],
    });
    assert.equal(body.counts, undefined);
    // i = 0 is reference layer 1, j = 1 is specimen layer 2, t = 1 is checkpoint 2
    assert.equal(body.values[0][1][1], cellValue(1, 2, 2));
    assert.equal(body.values[1][0][0], cellValue(0, 0, 0));
    assert.equal(body.values[1][2][1], null, 'cell 0/1/2 is not computed');
    assert.equal(body.values.length, 2);
    assert.equal(body.values[0].length, 3);
    assert.equal(body.values[0][0].length, 2);
  });

  it('drops the checkpoint axis for one checkpoint; its label is the checkpoint itself', () => {
    const sel = selection({ picked: [CHECKPOINTS[1]], single: true });
    const body = json(encodeSlice(sel, reader(), 'cka', 'json').body);
    assert.deepEqual(body.shape, [2, 3]);
    assert.deepEqual(body.axes, ['refLayer', 'specLayer']);
    assert.deepEqual(body.labels.checkpoint, CHECKPOINTS[1]);
    assert.equal(body.values[1][1], cellValue(0, 2, 1));
  });

  it('pads coefficient vectors with null to the longest one and gives each length in counts', () => {
    const sel = selection({ refSel: [0], refLabels: ['r0'], specSel: [1, 2], specLabels: ['s1', 's2'] });
    const out = encodeSlice(
      sel,
      reader(['0/2/2'], { '0/1/0': 3, '0/1/2': 1, '0/2/0': 2 }),
      'coefficients',
      'json',
    );
    const body = json(out.body);
    assert.deepEqual(body.shape, [1, 2, 2, 3]);
    assert.deepEqual(body.axes, ['refLayer', 'specLayer', 'checkpoint', 'coefficient']);
    assert.deepEqual(body.counts, [
      [
        [3, 1],
        [2, 0],
      ],
    ]);
    assert.deepEqual(body.values[0][0][0], [0.01, 0.26, 0.51]);
    assert.deepEqual(body.values[0][0][1], [0.012, null, null]);
    assert.deepEqual(body.values[0][1][0], [0.02, 0.27, null]);
    assert.deepEqual(body.values[0][1][1], [null, null, null], 'not computed: all padding');
  });

  it('counts without a checkpoint axis for one checkpoint', () => {
    const sel = selection({ picked: [CHECKPOINTS[2]], single: true });
    const body = json(encodeSlice(sel, reader([], { '1/0/2': 4 }), 'coefficients', 'json').body);
    assert.deepEqual(body.shape, [2, 3, 4]);
    assert.deepEqual(body.counts, [
      [4, 2, 2],
      [2, 2, 2],
    ]);
  });

  it('writes a float32 .npy of exactly the announced shape, NaN where not computed or padded', () => {
    const out = encodeSlice(selection(), reader(['0/0/0']), 'rho', 'npy');
    assert.equal(out.contentType, 'application/octet-stream');
    assert.deepEqual(out.axes, ['refLayer', 'specLayer', 'checkpoint']);
    const npy = decodeNpy(out.body);
    assert.equal(npy.dtype, 'float32');
    assert.deepEqual(npy.shape, [2, 3, 2]);
    assert.equal(npy.data.length, 12);
    // C order: (i, j, t) at i·6 + j·2 + t
    // (i = 0: reference 1; j = 2: specimen 1; t = 1: checkpoint 2)
    assert.equal(npy.data[0 * 6 + 2 * 2 + 1], Math.fround(cellValue(1, 1, 2)));
    assert.equal(npy.data[0 * 6 + 0 * 2 + 0], Math.fround(cellValue(1, 0, 0)));
    assert.ok(Number.isNaN(npy.data[1 * 6 + 0 * 2 + 0]), 'reference 0, specimen 0, checkpoint 0 is missing');

    const coefs = encodeSlice(
      selection({ picked: [CHECKPOINTS[0]], single: true }),
      reader([], { '1/0/0': 3 }),
      'coefficients',
      'npy',
    );
    const c = decodeNpy(coefs.body);
    assert.deepEqual(c.shape, [2, 3, 3]);
    assert.deepEqual(coefs.shape, [2, 3, 3]);
    assert.deepEqual(coefs.axes, ['refLayer', 'specLayer', 'coefficient']);
    assert.equal(c.data[2], Math.fround(cellValue(1, 0, 0) + 0.5));
    assert.ok(Number.isNaN(c.data[3 + 2]), 'a vector of 2 padded to 3 with NaN');
  });

  it('writes long-form CSV: one row per value, empty where not computed, coefficients unpadded', () => {
    const sel = selection({ refSel: [0], refLabels: ['r0'], specSel: [1], specLabels: ['s1'] });
    const out = encodeSlice(sel, reader(['0/1/2']), 'svcca', 'csv');
    assert.equal(out.contentType, 'text/csv; charset=utf-8');
    assert.equal(
      out.body.toString('utf8'),
      'refLayer,specLayer,checkpoint,step,fraction,measure,value\n' +
        `r0,s1,0,0,0,svcca,${cellValue(0, 1, 0)}\n` +
        'r0,s1,2,100,1,svcca,\n',
    );
    const coefs = encodeSlice(sel, reader([], { '0/1/0': 3, '0/1/2': 1 }), 'coefficients', 'csv');
    assert.equal(
      coefs.body.toString('utf8'),
      'refLayer,specLayer,checkpoint,step,fraction,measure,coefficient,value\n' +
        'r0,s1,0,0,0,coefficients,0,0.01\n' +
        'r0,s1,0,0,0,coefficients,1,0.26\n' +
        'r0,s1,0,0,0,coefficients,2,0.51\n' +
        'r0,s1,2,100,1,coefficients,0,0.012\n',
    );
  });
});

describe('sliceSelection', () => {
  const layers = [
    { network: 'reference', index: 0, name: 'fc1', features: 8 },
    { network: 'reference', index: 1, name: 'fc2', features: 4 },
    { network: 'specimen', index: 0, name: 'fc1', features: 8 },
    { network: 'specimen', index: 1, name: 'fc2', features: 0 },
  ];
  const limits = { sliceCells: 100, sliceBytes: 10_000, representationFeatures: 500 };
  const options = { measure: 'rho', format: 'json' } as const;

  it('selects layers by name or index with their labels, and checkpoints one way', () => {
    const sel = sliceSelection({ refLayer: 'fc2,0', step: 60 }, layers, CHECKPOINTS, options, limits);
    assert.deepEqual(sel, {
      refSel: [1, 0],
      specSel: [0, 1],
      refLabels: ['fc2', 'fc1'],
      specLabels: ['fc1', 'fc2'],
      picked: [CHECKPOINTS[1]],
      single: true,
    });
  });

  it('refuses unknown layers (400) and slices over the limits (422) as SliceErrors', () => {
    assert.throws(
      () => sliceSelection({ specLayer: 'fc9' }, layers, CHECKPOINTS, options, limits),
      (err) => err instanceof SliceError && err.status === 400 && err.code === 'UNKNOWN_LAYER',
    );
    assert.throws(
      () => sliceSelection({}, layers, CHECKPOINTS, options, { ...limits, sliceCells: 11 }),
      (err) => err instanceof SliceError && err.status === 422 && err.code === 'LIMIT_SLICE_CELLS',
    );
  });

  it('bounds coefficient widths by the narrower layer, an unknown width by the feature limit', () => {
    const coefficients = { measure: 'coefficients', format: 'npy' } as const;
    // 1 × 1 × 3 cells; fc1 × fc1: min(8, 8) = 8 values a cell, 4 bytes each
    const tight = { ...limits, sliceBytes: 3 * 8 * 4 };
    sliceSelection({ refLayer: 'fc1', specLayer: 'fc1' }, layers, CHECKPOINTS, coefficients, tight);
    assert.throws(
      () =>
        sliceSelection({ refLayer: 'fc1', specLayer: 'fc1' }, layers, CHECKPOINTS, coefficients, {
          ...tight,
          sliceBytes: tight.sliceBytes - 1,
        }),
      (err) => err instanceof SliceError && err.code === 'LIMIT_SLICE_BYTES',
    );
    // specimen fc2's width is unknown (0): the limit of 500, so min(8, 500) = 8 still fits
    sliceSelection({ refLayer: 'fc1', specLayer: 'fc2' }, layers, CHECKPOINTS, coefficients, tight);
  });
});
