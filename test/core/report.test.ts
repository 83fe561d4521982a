import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reproductionReport } from '../../core/report.ts';
import { syntheticTensor } from './figures/fixture.ts';

const analysis = (convergence: string, crawl: string) => ({
  convergence: {
    threshold: 0.9,
    verdict: convergence,
    spearman: 1,
    layers: [
      { layer: 'input', convergedAt: 0 },
      { layer: 'fc1', convergedAt: 0.1 },
      { layer: 'fc2', convergedAt: 0.3 },
      { layer: 'fc3', convergedAt: 0.3 },
      { layer: 'logits', convergedAt: 0.6 },
    ],
  },
  crawl: {
    layer: 'fc3',
    verdict: crawl,
    reasons: crawl === 'inconclusive' ? ['few-samples: input has 784 features and 256 samples'] : [],
    steps: [
      { fraction: 0, mostSimilar: 'fc2', rho: 0.6 },
      { fraction: 0.99, mostSimilar: 'fc3', rho: 1 },
    ],
  },
});

describe('reproduction report', () => {
  it("states each claim's numbers, its null and whether it holds", () => {
    const data = syntheticTensor();
    const { markdown, claims } = reproductionReport({
      title: 'synthetic',
      setting: ['network: test'],
      data,
      analysis: analysis('bottom-up', 'crawl'),
      warnings: [{ code: 'few-samples', message: "layer 'input' has 784 features and 256 samples" }],
    });
    assert.deepEqual(
      claims.map((c) => [c.claim, c.holds]),
      [
        ['Figure 1 diagonal brightening', true],
        ['Figure 2 bottom-up order', true],
        ['logits behave differently', false],
        ['Figure 3 crawl', true],
      ],
    );
    // the '99 %' panel is the 99 % checkpoint (step 1980), not the final one
    assert.match(markdown, /\| 99% \| 1980 \| 1\.000 \| 0\.150 \| 1\.000 \|/);
    assert.match(markdown, /random baseline/);
    assert.match(markdown, /- few-samples: layer 'input' has 784 features and 256 samples/);
    assert.match(markdown, /\| Figure 2 bottom-up order \| yes \|/);
  });

  it('says when the analysis cannot decide, with its reasons', () => {
    const { markdown, claims } = reproductionReport({
      title: 'synthetic',
      setting: [],
      data: syntheticTensor(),
      analysis: analysis('not-bottom-up', 'inconclusive'),
    });
    assert.equal(claims[1].holds, false);
    assert.equal(claims[3].holds, null);
    assert.match(
      markdown,
      /reasons: few-samples: input has 784 features and 256 samples: the claim cannot be decided/,
    );
  });
});
