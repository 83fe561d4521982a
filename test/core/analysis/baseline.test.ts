// One seeded Gaussian source: the service's random baseline (baselineLayers, what summary.baseline
// compares) and core/cca's exported randomBaseline draw the same matrices, so randomBaseline gives the
// numbers the service reports.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baselineLayers, gaussianMatrix } from '../../../core/analysis/baseline.ts';
import { gaussian as ccaGaussian, randomBaseline, similarity } from '../../../core/cca/similarity.ts';
import { gaussian } from '../../../core/data/random.ts';

describe('the random baseline', () => {
  it('randomBaseline equals the similarity of the baseline matrices the service builds', async () => {
    const { ref, spec } = baselineLayers(150, [12, 30], [20]);
    const x = await ref[1]();
    const y = await spec[0]();
    const service = similarity(x, y);
    const exported = randomBaseline(150, 30, 20);
    assert.deepEqual(exported.cca, service.cca);
    assert.equal(exported.rho, service.rho);
    assert.ok(service.rho > 0.1, 'few samples per neuron: far above 0');
  });

  it('has one generator: deterministic, standard normal, shared by core/cca', () => {
    assert.equal(ccaGaussian, gaussian);
    const a = gaussian(20_001, 7);
    assert.deepEqual(a, gaussian(20_001, 7));
    assert.notDeepEqual(a.subarray(0, 10), gaussian(10, 8));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
    assert.deepEqual(gaussianMatrix(3, 4, 9).data, gaussian(12, 9));
  });
});
