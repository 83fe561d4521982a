// The permutation null computed with the tensor: each cell's null equals rho of the reference layer
// against the specimen representation with its rows shuffled by the cell's seeded permutation; it is
// the same on every run (resume), ~1 when samples do not exceed the rank, and ~rho on unrelated data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTensor, type Matrix2D, similarity, type TensorCell } from '../../../core/cca/index.ts';
import { permuteRows, seededPermutation } from '../../../core/cca/similarity.ts';
import { nullSeed } from '../../../core/cca/tensor.ts';
import { assertClose, randomMatrix, related } from './helpers.ts';

async function tensor(refs: Matrix2D[], specs: Matrix2D[][], engine: 'js' | 'auto' = 'js', seed = 3) {
  const cells: TensorCell[] = [];
  for await (const cell of buildTensor({
    refLayers: refs.map((m, i) => ({ name: `ref${i}`, load: async () => m })),
    specLayers: specs[0]!.map((_, j) => ({ name: `spec${j}` })),
    checkpoints: specs.length,
    loadSpecimen: async (j, t) => specs[t]![j]!,
    options: { engine, methods: ['cca'] },
    permutationNull: { seed },
  }))
    cells.push(cell);
  return cells;
}

describe('permutation null', () => {
  const n = 300;
  const x = randomMatrix(n, 20, 1);
  const y = related(x, 8, 0.2, 2);
  const unrelated = randomMatrix(n, 15, 3);

  it('equals rho against the specimen with its rows permuted by the seeded permutation', async () => {
    const cells = await tensor(
      [x],
      [
        [y, unrelated],
        [unrelated, y],
      ],
    );
    assert.equal(cells.length, 4);
    for (const c of cells) {
      const spec = c.checkpoint === 0 ? [y, unrelated][c.specLayer]! : [unrelated, y][c.specLayer]!;
      const perm = seededPermutation(n, nullSeed(3, c.specLayer, c.checkpoint));
      const shuffled = {
        data: permuteRows(spec.data as Float64Array, n, spec.cols, perm),
        rows: n,
        cols: spec.cols,
      };
      assertClose(
        c.null!,
        similarity(x, shuffled, { methods: ['cca'] }).rho,
        1e-10,
        `cell ${c.specLayer}/${c.checkpoint}`,
      );
    }
    // related data: rho far above its null; unrelated data: rho close to its null
    const related0 = cells.find((c) => c.checkpoint === 0 && c.specLayer === 0)!;
    const unrelated0 = cells.find((c) => c.checkpoint === 0 && c.specLayer === 1)!;
    assert.ok(
      related0.result.rho > 0.7 && related0.null! < 0.4,
      `${related0.result.rho} vs ${related0.null}`,
    );
    assert.ok(Math.abs(unrelated0.result.rho - unrelated0.null!) < 0.05);
  });

  it('is the same on every run and on the native engine', async () => {
    const a = await tensor([x], [[y]]);
    const b = await tensor([x], [[y]], 'auto');
    assertClose(a[0]!.null!, b[0]!.null!, 1e-10, 'js vs engine');
    const c = await tensor([x], [[y]], 'js', 4);
    assert.notEqual(a[0]!.null, c[0]!.null);
  });

  it('is 1 when the samples do not exceed the rank (every layer looks like the input)', async () => {
    const wide = randomMatrix(64, 100, 5); // 64 samples, 100 features: rank 63 spans every centred direction
    const cells = await tensor([wide], [[randomMatrix(64, 10, 6)]]);
    assertClose(cells[0]!.null!, 1, 1e-9, 'null');
    assertClose(cells[0]!.result.rho, 1, 1e-9, 'rho');
  });

  it('permutes every row exactly once', () => {
    const p = seededPermutation(1000, 7);
    assert.deepEqual(
      [...p].sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.deepEqual(p, seededPermutation(1000, 7));
  });
});
