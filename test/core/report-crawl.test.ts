// The report's crawl section names the final layers the crawl left out and why (a CIFAR-10 run's
// pooled input is left out by construction: the reader sees the input did not decide the verdict).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reproductionReport } from '../../core/report.ts';
import { syntheticTensor } from './figures/fixture.ts';

describe('reproduction report: crawl exclusions', () => {
  it('lists the candidates the crawl left out, with code and reason', () => {
    const { markdown } = reproductionReport({
      title: 'cifar',
      setting: [],
      data: syntheticTensor(),
      analysis: {
        convergence: { threshold: 0.8, verdict: 'bottom-up', spearman: 1, layers: [] },
        crawl: {
          layer: 'fc3',
          verdict: 'no-crawl',
          steps: [{ fraction: 0, mostSimilar: 'fc3', score: 0.4 }],
          excluded: [
            {
              code: 'structural-input',
              layer: 'input',
              reason: "input is left out: a conv reduction ('pool')",
            },
            { code: 'trivial-checkpoint', checkpoint: 5, reason: 'final checkpoint' },
          ],
        },
      },
    });
    assert.match(
      markdown,
      /Final layers left out as candidates:\n- input \(`structural-input`\): input is left out: a conv reduction \('pool'\)\n/,
    );
    assert.doesNotMatch(markdown, /- undefined/);
  });
});
