// PWCCA has one convention whatever the requested methods and whichever eigensolver runs. On
// degenerate data (n < dx + dy) a block of coefficients is exactly 1, its canonical variates are any
// orthonormal basis of the block, and the L1 weights of the textbook formula depend on the basis the
// eigensolver happens to return: before the convention, `methods: ['pwcca']` (Cholesky whitening of
// the y side) and all methods (principal whitening) gave different values (golden few-samples:
// 0.873975 vs 0.874786), and each engine another. Now every coefficient of a block of equal
// coefficients gets its weight averaged over all orthonormal bases of the block (see pwccaFrom).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ALL_METHODS,
  type GemmEngine,
  type Matrix2D,
  type SimilarityMethod,
  similarity,
  similarityAsync,
} from '../../../core/cca/index.ts';
import { assertClose, goldenDir, loadedEngines, loadNpy, randomMatrix, related } from './helpers.ts';

const TOL = 1e-12;
const METHOD_SETS: SimilarityMethod[][] = [
  [...ALL_METHODS],
  ['pwcca'],
  ['cca', 'pwcca'],
  ['cca', 'pwcca', 'cka'],
  ['svcca', 'pwcca'],
];

let engines: GemmEngine[] | undefined;
after(async () => {
  for (const e of engines ?? []) await e.dispose();
});

/** PWCCA of (x, y) for every method set, on JS and on each engine that loads here. */
async function everyPwcca(x: Matrix2D, y: Matrix2D): Promise<Array<[string, number]>> {
  engines ??= await loadedEngines();
  const out: Array<[string, number]> = [];
  for (const methods of METHOD_SETS) {
    out.push([`js ${methods}`, similarity(x, y, { methods }).pwcca!]);
    for (const engine of engines)
      out.push([`${engine.name} ${methods}`, (await similarityAsync(x, y, engine, { methods })).pwcca!]);
  }
  return out;
}

describe('PWCCA convention', () => {
  it('is one number on golden few-samples (81 coefficients exactly 1), whatever the methods and engine', async () => {
    const dir = path.join(goldenDir, 'few-samples');
    const x = loadNpy(path.join(dir, 'x.npy'));
    const y = loadNpy(path.join(dir, 'y.npy'));
    const all = await everyPwcca(x, y);
    const [, first] = all[0]!;
    for (const [how, v] of all) assertClose(v, first, TOL, `few-samples pwcca (${how})`);
  });

  it('is one number on random degenerate data (n < dx + dy), whatever the methods and engine', async () => {
    const x = randomMatrix(50, 30, 31);
    const y = related(x, 35, 1, 32); // 30 + 35 > 50: at least 15 coefficients are exactly 1
    const r = similarity(x, y);
    assert.ok(r.cca.filter((c) => c > 1 - 1e-9).length >= 15, 'a block of coefficients equal to 1');
    const all = await everyPwcca(x, y);
    const [, first] = all[0]!;
    for (const [how, v] of all) assertClose(v, first, TOL, `degenerate pwcca (${how})`);
    // the y side weights when it has fewer directions: swapping the sides agrees too
    const swapped = similarity(randomMatrix(50, 40, 33), x, { methods: ['pwcca'] }).pwcca!;
    const swappedAll = similarity(randomMatrix(50, 40, 33), x).pwcca!;
    assertClose(swapped, swappedAll, TOL, 'y side weighted');
  });

  it('keeps the textbook weights when the coefficients are distinct (bit for bit across methods)', () => {
    const x = randomMatrix(800, 20, 41);
    const y = related(x, 25, 0.5, 42);
    const all = similarity(x, y).pwcca!;
    // the textbook formula, from the canonical variates h_i = Qx u_i of the x side (fewer directions)
    assert.equal(similarity(x, y, { methods: ['svcca', 'pwcca'] }).pwcca, all);
    assertClose(similarity(x, y, { methods: ['pwcca'] }).pwcca!, all, TOL, 'pwcca alone');
  });
});
