// Acceptance: every golden case (../shared/fixtures/cca-golden) to 1e-6, on the JS path and on each
// GEMM engine that loads here (native OpenBLAS/LAPACK, onnxruntime).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type GemmEngine,
  type SimilarityResult,
  similarity,
  similarityAsync,
} from '../../../core/cca/index.ts';
import { assertClose, goldenCases, goldenDir, loadedEngines, loadNpy } from './helpers.ts';

interface Expected {
  ranks: [number, number];
  cca: number[];
  rho: number;
  mean: number;
  svcca99: number[];
  svcca99_rho: number;
  svcca99_mean: number;
  pwcca: number;
  linear_cka: number;
}

const TOL = 1e-6;

// few-samples PWCCA is not a well-defined number, so it is not tested at 1e-6. 81 of the 100
// coefficients are exactly 1 (two 100-dim subspaces of a 119-dim space meet in >= 81 dimensions), so
// the canonical variates of that block are any orthonormal basis of the intersection, and the block's
// L1 weights sum_j |<h_i, x_j>| depend on which basis an SVD routine returns. PWCCA =
// (A + R1) / (A + R0) with A the block's total weight (R1, R0 from the 19 unique directions):
// optimising A over rotations of the block (numpy, offline) gives valid PWCCA values from 0.85217 to
// 0.88626 (at least; local optima). expected.json's 0.8754036 is reproduced to 1e-16 (all seven cases)
// by numpy with Qx, Qy = the left singular vectors of the centred data (np.linalg.svd), U from
// np.linalg.svd(Qx^T Qy), h = Qx U (x side on a tie), but only with numpy's OpenBLAS 0.3.31 Haswell
// kernels on 2 threads: the same script gives -6.2e-4 on 1 thread, -5.8e-4 / -7.2e-4 with the
// SkylakeX kernels, -7.3e-5 with Sandybridge's, and a 1e-16 perturbation of Qx moves it by up to
// 5e-4. The JS path (deterministic) gives 0.874786 (-6.2e-4), tested at 2e-3; the native engines
// (OpenBLAS/LAPACK here 0.87393, onnx + JS 0.87461) depend on the BLAS kernels of the machine, so
// they are tested to lie in the valid range. Everything else in the case matches to 1e-6
// (coefficients to 1e-13). Since the PWCCA convention for blocks of equal coefficients (the weight
// averaged over every orthonormal basis of the block, see pwccaFrom in core/cca/similarity.ts) every
// path gives 0.8751988 here, whatever the engine or requested methods (test/core/cca/pwcca.test.ts).
const ILL_POSED_PWCCA: Record<string, { js: number; range: [number, number] }> = {
  'few-samples': { js: 2e-3, range: [0.852, 0.8863] },
};

function checkPwcca(name: string, how: string, actual: number, expected: number): void {
  const ill = ILL_POSED_PWCCA[name];
  const at = `${name} (${how}): pwcca`;
  if (!ill) assertClose(actual, expected, TOL, at);
  else if (how.startsWith('js')) assertClose(actual, expected, ill.js, at);
  else assert.ok(actual >= ill.range[0] && actual <= ill.range[1], `${at} ${actual} outside ${ill.range}`);
}

let engines: GemmEngine[] | undefined;
after(async () => {
  for (const e of engines ?? []) await e.dispose();
});

describe('golden cases', () => {
  for (const name of goldenCases()) {
    it(name, async () => {
      const dir = path.join(goldenDir, name);
      const x = loadNpy(path.join(dir, 'x.npy'));
      const y = loadNpy(path.join(dir, 'y.npy'));
      const e = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
      engines ??= await loadedEngines();
      const results: Array<[string, SimilarityResult]> = [['js', similarity(x, y)]];
      for (const engine of engines) results.push([engine.name, await similarityAsync(x, y, engine)]);
      for (const [how, r] of results) {
        const at = `${name} (${how})`;
        assert.deepEqual(r.ranks, e.ranks, `${at}: ranks`);
        assert.equal(r.cca.length, e.cca.length, `${at}: number of coefficients`);
        for (const [i, c] of e.cca.entries()) assertClose(r.cca[i]!, c, TOL, `${at}: cca[${i}]`);
        assertClose(r.rho, e.rho, TOL, `${at}: rho`);
        assertClose(r.mean, e.mean, TOL, `${at}: mean`);
        assert.ok(r.svcca?.cca, `${at}: svcca`);
        assert.equal(r.svcca.cca.length, e.svcca99.length, `${at}: number of svcca coefficients`);
        for (const [i, c] of e.svcca99.entries())
          assertClose(r.svcca.cca[i]!, c, TOL, `${at}: svcca99[${i}]`);
        assertClose(r.svcca.rho, e.svcca99_rho, TOL, `${at}: svcca99_rho`);
        assertClose(r.svcca.mean, e.svcca99_mean, TOL, `${at}: svcca99_mean`);
        checkPwcca(name, how, r.pwcca!, e.pwcca);
        assertClose(r.cka!, e.linear_cka, TOL, `${at}: linear_cka`);
      }
      // Without SVCCA the y side may be whitened through its Cholesky factor instead of its
      // eigendecomposition: same ranks and values.
      const methods = ['cca', 'pwcca', 'cka'] as const;
      const reduced: Array<[string, SimilarityResult]> = [
        ['js, no svcca', similarity(x, y, { methods: [...methods] })],
        ['js, swapped, no svcca', similarity(y, x, { methods: [...methods] })],
      ];
      for (const engine of engines) {
        reduced.push([
          `${engine.name}, no svcca`,
          await similarityAsync(x, y, engine, { methods: [...methods] }),
        ]);
      }
      for (const [how, r] of reduced) {
        const at = `${name} (${how})`;
        const swapped = how.includes('swapped');
        assert.deepEqual(r.ranks, swapped ? [e.ranks[1], e.ranks[0]] : e.ranks, `${at}: ranks`);
        assert.equal(r.cca.length, e.cca.length, `${at}: number of coefficients`);
        for (const [i, c] of e.cca.entries()) assertClose(r.cca[i]!, c, TOL, `${at}: cca[${i}]`);
        assertClose(r.rho, e.rho, TOL, `${at}: rho`);
        assertClose(r.mean, e.mean, TOL, `${at}: mean`);
        if (!swapped) checkPwcca(name, how, r.pwcca!, e.pwcca);
        assertClose(r.cka!, e.linear_cka, TOL, `${at}: linear_cka`);
      }
    });
  }
});
