// Scale invariance: every golden case (../shared/fixtures/cca-golden, read here, never copied) with x
// in units of 1e200 and y in units of 1e-200 (and the reverse), as float64, gives the golden values
// to 1e-6 and the unscaled results to 1e-12, on the JS path and on the native OpenBLAS engine when it loads here.
// Before the engine scaled the centred data, the Gram products overflowed (Infinity) or underflowed
// (0): "constant layer", every measure 0. Also: finite float64 data near 1e±160 and 1e±300.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type GemmEngine,
  type Matrix2D,
  type SimilarityResult,
  similarity,
  similarityAsync,
} from '../../../core/cca/index.ts';
import {
  assertClose,
  goldenCases,
  goldenDir,
  loadedEngines,
  loadNpy,
  randomMatrix,
  related,
} from './helpers.ts';

interface Expected {
  ranks: [number, number];
  cca: number[];
  rho: number;
  mean: number;
  svcca99_rho: number;
  pwcca: number;
  linear_cka: number;
}

const GOLDEN_TOL = 1e-6;
const SAME_TOL = 1e-12;
/**
 * Scaled golden data vs unscaled: multiplying by 1e200 rounds every value (1.1e-16 relative), which
 * moves linear-map's coefficients near 1 by up to 1.3e-12; the engine adds nothing (powers of two,
 * which scale exactly, give the same values bit for bit: see below).
 */
const ROUNDED_TOL = 1e-10;

/** float64 copy of m with every value multiplied by factor (the stored float32 values, exactly, times it). */
function times(m: Matrix2D, factor: number): Matrix2D {
  return { data: Float64Array.from(m.data, (v) => v * factor), rows: m.rows, cols: m.cols };
}

function assertSame(actual: SimilarityResult, expected: SimilarityResult, tol: number, at: string): void {
  assert.deepEqual(actual.ranks, expected.ranks, `${at}: ranks`);
  assert.equal(actual.cca.length, expected.cca.length, `${at}: number of coefficients`);
  for (let i = 0; i < expected.cca.length; i++)
    assertClose(actual.cca[i]!, expected.cca[i]!, tol, `${at}: cca[${i}]`);
  assertClose(actual.rho, expected.rho, tol, `${at}: rho`);
  assertClose(actual.mean, expected.mean, tol, `${at}: mean`);
  assertClose(actual.svcca!.rho, expected.svcca!.rho, tol, `${at}: svcca rho`);
  assertClose(actual.pwcca!, expected.pwcca!, tol, `${at}: pwcca`);
  assertClose(actual.cka!, expected.cka!, tol, `${at}: cka`);
  assert.ok(!actual.warnings.some((w) => w.startsWith('constant-layer')), `${at}: not a constant layer`);
}

/** The native OpenBLAS engine when it loads here (onnxruntime shares the JS decompositions). */
let engines: GemmEngine[] | undefined;
const nativeEngines = async () =>
  (await loadedEngines()).filter((e) => {
    if (e.name === 'blas') return true;
    void e.dispose();
    return false;
  });
after(async () => {
  for (const e of engines ?? []) await e.dispose();
});

describe('scaled golden cases (float64, 1e±200)', () => {
  for (const name of goldenCases()) {
    it(name, async () => {
      const dir = path.join(goldenDir, name);
      const x = loadNpy(path.join(dir, 'x.npy'));
      const y = loadNpy(path.join(dir, 'y.npy'));
      const e = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
      engines ??= await nativeEngines();
      const runs: Array<[string, (a: Matrix2D, b: Matrix2D) => Promise<SimilarityResult>]> = [
        ['js', async (a, b) => similarity(a, b)],
        ...engines.map(
          (engine) =>
            [engine.name, (a: Matrix2D, b: Matrix2D) => similarityAsync(a, b, engine)] as [
              string,
              (a: Matrix2D, b: Matrix2D) => Promise<SimilarityResult>,
            ],
        ),
      ];
      for (const [how, run] of runs) {
        const unscaled = await run(times(x, 1), times(y, 1));
        for (const [fx, fy] of [
          [1e200, 1e-200],
          [1e-200, 1e200],
        ] as const) {
          const at = `${name} (${how}, x ${fx}, y ${fy})`;
          const r = await run(times(x, fx), times(y, fy));
          // the golden values (PWCCA of few-samples is checked in golden.test.ts: not one number there)
          assert.deepEqual(r.ranks, e.ranks, `${at}: ranks`);
          for (const [i, c] of e.cca.entries()) assertClose(r.cca[i]!, c, GOLDEN_TOL, `${at}: cca[${i}]`);
          assertClose(r.rho, e.rho, GOLDEN_TOL, `${at}: rho`);
          assertClose(r.mean, e.mean, GOLDEN_TOL, `${at}: mean`);
          assertClose(r.svcca!.rho, e.svcca99_rho, GOLDEN_TOL, `${at}: svcca99_rho`);
          if (name !== 'few-samples') assertClose(r.pwcca!, e.pwcca, GOLDEN_TOL, `${at}: pwcca`);
          assertClose(r.cka!, e.linear_cka, GOLDEN_TOL, `${at}: linear_cka`);
          // and the same numbers as the unscaled data
          assertSame(r, unscaled, ROUNDED_TOL, `${at} vs unscaled`);
        }
      }
    });
  }
});

describe('extreme float64 magnitudes', () => {
  const x = randomMatrix(400, 12, 21);
  const y = related(x, 9, 0.3, 22);
  const base = similarity(x, y);

  for (const factor of [1e160, 1e300, 1e-160, 1e-200, 1e-300, 2 ** 1000, 2 ** -1000]) {
    it(`gives the unscaled values for data x ${factor} (JS and each engine)`, async () => {
      engines ??= await nativeEngines();
      const sx = times(x, factor);
      const sy = times(y, factor);
      assertSame(similarity(sx, sy), base, SAME_TOL, `js, x ${factor}`);
      assertSame(similarity(sx, y), base, SAME_TOL, `js, only x ${factor}`);
      for (const engine of engines)
        assertSame(await similarityAsync(sx, sy, engine), base, SAME_TOL, `${engine.name}, x ${factor}`);
    });
  }

  it('centres values whose column sums overflow (near the float64 maximum)', async () => {
    // every value near 1e306: 400 of them sum past 1.8e308 (the offset rounds the data by ~1e-13)
    const offset = (m: Matrix2D) => ({
      ...m,
      data: Float64Array.from(m.data, (v) => 1e306 + v * 1e303),
    });
    const r = similarity(offset(x), offset(y));
    assert.deepEqual(r.ranks, base.ranks);
    for (let i = 0; i < base.cca.length; i++) assertClose(r.cca[i]!, base.cca[i]!, 1e-9, `cca[${i}]`);
    assertClose(r.pwcca!, base.pwcca!, 1e-9, 'pwcca');
    assertClose(r.cka!, base.cka!, 1e-9, 'cka');
    engines ??= await nativeEngines();
    for (const engine of engines) {
      const a = await similarityAsync(offset(x), offset(y), engine);
      assertClose(a.rho, r.rho, SAME_TOL, `${engine.name}: rho`);
    }
  });

  it('keeps a power-of-two rescaling bit for bit', () => {
    const r = similarity(times(x, 2 ** 300), times(y, 2 ** -500));
    assert.deepEqual(Array.from(r.cca), Array.from(base.cca));
    assert.equal(r.rho, base.rho);
    assert.equal(r.pwcca, base.pwcca);
    assert.equal(r.cka, base.cka);
  });
});
