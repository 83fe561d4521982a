// Acceptance: the tensor builder equals pairwise similarity() cell by cell, with and without the
// GEMM engine; it resumes (skip), aborts promptly and keeps only one specimen representation.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  buildTensor,
  type GemmEngine,
  jsEngine,
  type Matrix2D,
  type SimilarityResult,
  similarity,
  type TensorCell,
} from '../../../core/cca/index.ts';
import { PHASES, PhaseProfile } from '../../../core/cca/profile.ts';
import { permuteRows, seededPermutation } from '../../../core/cca/similarity.ts';
import { nullSeed } from '../../../core/cca/tensor.ts';
import { assertClose, loadedEngines, randomMatrix, related } from './helpers.ts';

const n = 400;
const input = randomMatrix(n, 12, 21);
const refs = [input, related(input, 16, 0.3, 22), related(input, 6, 0.3, 23)];
/** Specimen layer j at checkpoint t: drifts towards the reference layer as t grows. */
function specimen(j: number, t: number): Matrix2D {
  const ref = refs[j]!;
  const noise = randomMatrix(n, ref.cols, 100 + 10 * j + t);
  const w = t / 2;
  return {
    data: Float64Array.from(ref.data, (v, i) => w * v + (1 - w) * noise.data[i]!),
    rows: n,
    cols: ref.cols,
  };
}

function assertEqualResults(a: SimilarityResult, b: SimilarityResult, tol: number, at: string): void {
  assert.deepEqual(a.ranks, b.ranks, `${at}: ranks`);
  assert.equal(a.cca.length, b.cca.length, `${at}: length`);
  for (let i = 0; i < a.cca.length; i++) assertClose(a.cca[i]!, b.cca[i]!, tol, `${at}: cca[${i}]`);
  for (const key of ['rho', 'mean', 'pwcca', 'cka'] as const)
    assertClose(a[key]!, b[key]!, tol, `${at}: ${key}`);
  assertClose(a.svcca!.rho, b.svcca!.rho, tol, `${at}: svcca`);
  assert.deepEqual(a.svcca!.dims, b.svcca!.dims);
  assert.deepEqual(a.warnings, b.warnings);
}

async function collect(
  options: Parameters<typeof buildTensor>[0]['options'],
  skip?: (i: number, j: number, t: number) => boolean,
) {
  const cells: TensorCell[] = [];
  let loads = 0;
  for await (const cell of buildTensor({
    refLayers: refs.map((m, i) => ({ name: `ref${i}`, load: async () => m })),
    specLayers: refs.map((_, j) => ({ name: `spec${j}` })),
    checkpoints: 3,
    loadSpecimen: async (j, t) => {
      loads++;
      return specimen(j, t);
    },
    skip,
    options,
  })) {
    cells.push(cell);
  }
  return { cells, loads };
}

// Every engine that loads here (native OpenBLAS/LAPACK, onnxruntime with JS decompositions on worker
// threads), each with every product on the engine however small.
let engines: GemmEngine[] | undefined;
after(async () => {
  for (const e of engines ?? []) await e.dispose();
});

describe('buildTensor', () => {
  it('equals pairwise similarity() cell by cell (JS and each GEMM engine, float64)', async () => {
    engines ??= await loadedEngines();
    assert.ok(engines.length > 0, 'a GEMM engine loads');
    for (const choice of ['js', ...engines] as const) {
      const { cells, loads } = await collect({ engine: choice });
      assert.equal(cells.length, 3 * 3 * 3);
      assert.equal(loads, 3 * 3, 'each specimen representation is loaded once');
      for (const c of cells) {
        const expected = similarity(refs[c.refLayer]!, specimen(c.specLayer, c.checkpoint));
        assertEqualResults(
          c.result,
          expected,
          1e-9,
          `${typeof choice === 'string' ? choice : choice.name} ${c.refLayer},${c.specLayer},${c.checkpoint}`,
        );
      }
      const final = cells.find((c) => c.refLayer === 1 && c.specLayer === 1 && c.checkpoint === 2)!;
      assertClose(final.result.rho, 1, 1e-12, 'a layer against itself');
    }
  });

  it("equals pairwise similarity() with the worker's methods ['cca', 'cka'] (each GEMM engine)", async () => {
    engines ??= await loadedEngines();
    const methods: Array<'cca' | 'cka'> = ['cca', 'cka'];
    for (const engine of engines) {
      const { cells } = await collect({ engine, methods, epsilon: 1e-10, svccaThreshold: 0.99 });
      assert.equal(cells.length, 3 * 3 * 3);
      for (const [k, c] of cells.entries()) {
        const at = `${engine.name} ${c.refLayer},${c.specLayer},${c.checkpoint}`;
        assert.deepEqual(
          [c.refLayer, c.specLayer, c.checkpoint],
          [k % 3, Math.floor(k / 3) % 3, Math.floor(k / 9)],
        );
        const expected = similarity(refs[c.refLayer]!, specimen(c.specLayer, c.checkpoint), { methods });
        const full = similarity(refs[c.refLayer]!, specimen(c.specLayer, c.checkpoint));
        assert.deepEqual(c.result.ranks, full.ranks, `${at}: ranks`);
        assert.equal(c.result.svcca, null);
        assert.equal(c.result.pwcca, null);
        for (const other of [expected, full]) {
          for (let i = 0; i < other.cca.length; i++)
            assertClose(c.result.cca[i]!, other.cca[i]!, 1e-9, `${at}: cca[${i}]`);
          assertClose(c.result.rho, other.rho, 1e-9, `${at}: rho`);
          assertClose(c.result.cka!, other.cka!, 1e-9, `${at}: cka`);
        }
      }
    }
  });

  it('accounts for its time phase by phase (each engine, with the permutation null)', async () => {
    engines ??= await loadedEngines();
    for (const engine of ['js', ...engines] as const) {
      const profile = new PhaseProfile();
      let cells = 0;
      for await (const cell of buildTensor({
        refLayers: refs.map((m, i) => ({ name: `ref${i}`, load: async () => m })),
        specLayers: refs.map((_, j) => ({ name: `spec${j}` })),
        checkpoints: 2,
        loadSpecimen: async (j, t) => specimen(j, t),
        options: { engine },
        permutationNull: { seed: 1 },
        profile,
      })) {
        assert.ok(cell.null !== undefined);
        cells++;
      }
      assert.equal(cells, 3 * 3 * 2);
      const summary = profile.summary();
      const name = typeof engine === 'string' ? engine : engine.name;
      let shares = 0;
      for (const phase of PHASES) {
        const { calls, wall_s, thread_s, share } = summary[phase];
        // the consumer records 'writing' itself; every other phase ran (its time, rounded to the
        // millisecond, can be 0 on a fast machine: the tiny Gram products here take microseconds)
        if (phase !== 'writing') assert.ok(calls > 0, `${name}: ${phase} recorded`);
        else assert.equal(calls, 0, `${name}: writing is the consumer's`);
        assert.ok(wall_s <= thread_s + 1e-9, `${name}: ${phase} wall <= thread seconds`);
        shares += share;
      }
      assertClose(shares, 1, 1e-3, `${name}: shares`);
    }
  });

  it("reuses the cells of a specimen representation identical to the previous checkpoint's (each engine)", async () => {
    engines ??= await loadedEngines();
    // specimen layer 0 is the same input at every checkpoint (a fresh copy each time, float32 at the
    // last one, which is then not identical); layer 1 changes
    const input32 = Float32Array.from(refs[0]!.data);
    const spec = (j: number, t: number): Matrix2D =>
      j === 1
        ? specimen(1, t)
        : t === 2
          ? { data: input32, rows: n, cols: refs[0]!.cols }
          : { data: Float64Array.from(refs[0]!.data), rows: n, cols: refs[0]!.cols };
    for (const base of ['js', ...engines] as const) {
      const inner = base === 'js' ? jsEngine : base;
      let products = 0; // the tensor's big products (M = QT Yc) have the samples as inner dimension
      const engine: GemmEngine = {
        ...inner,
        name: inner.name,
        linalg: inner.linalg,
        matmul: (a, b) => {
          if (a.cols === n) products++;
          return inner.matmul(a, b);
        },
      };
      const cells: TensorCell[] = [];
      for await (const cell of buildTensor({
        refLayers: refs.map((m, i) => ({ name: `ref${i}`, load: async () => m })),
        specLayers: [{ name: 'input' }, { name: 'spec1' }],
        checkpoints: 3,
        loadSpecimen: async (j, t) => spec(j, t),
        options: { engine },
        permutationNull: { seed: 5 },
      })) {
        cells.push(cell);
      }
      const name = inner.name;
      assert.equal(cells.length, 3 * 2 * 3);
      // main products: (input, 0), (spec1, 0..2), (input, 2: float32); nulls: all 6 representations
      assert.equal(products, 5 + 6, `${name}: products`);
      for (const c of cells) {
        const y = spec(c.specLayer, c.checkpoint);
        const at = `${name} ${c.refLayer},${c.specLayer},${c.checkpoint}`;
        assertEqualResults(c.result, similarity(refs[c.refLayer]!, y), 1e-9, at);
        const perm = seededPermutation(n, nullSeed(5, c.specLayer, c.checkpoint));
        const yd = Float64Array.from(y.data);
        const shuffled = { data: permuteRows(yd, n, y.cols, perm), rows: n, cols: y.cols };
        assertClose(
          c.null!,
          similarity(refs[c.refLayer]!, shuffled, { methods: ['cca'] }).rho,
          1e-9,
          `${at}: null`,
        );
      }
      const first = cells.find((c) => c.refLayer === 0 && c.specLayer === 0 && c.checkpoint === 0)!;
      const second = cells.find((c) => c.refLayer === 0 && c.specLayer === 0 && c.checkpoint === 1)!;
      assert.notEqual(first.result.cca, second.result.cca, 'reused results are copies');
    }
  });

  it('skips stored cells without loading what only they need', async () => {
    const { cells, loads } = await collect(
      { engine: 'js', methods: ['cca'] },
      (_i, j, t) => t < 2 || j === 0,
    );
    assert.equal(cells.length, 3 * 2);
    assert.equal(loads, 2);
    assert.ok(cells.every((c) => c.checkpoint === 2 && c.specLayer > 0));
  });

  it('stops promptly when aborted', async () => {
    const controller = new AbortController();
    const seen: TensorCell[] = [];
    await assert.rejects(
      async () => {
        for await (const cell of buildTensor({
          refLayers: refs.map((m, i) => ({ name: `ref${i}`, load: async () => m })),
          specLayers: [{ name: 'spec' }],
          checkpoints: 100,
          loadSpecimen: async () => refs[0]!,
          options: { engine: 'js' },
          signal: controller.signal,
        })) {
          seen.push(cell);
          if (seen.length === 2) controller.abort();
        }
      },
      (err: unknown) => err instanceof Error && err.name === 'AbortError',
    );
    assert.equal(seen.length, 2);
  });
});
