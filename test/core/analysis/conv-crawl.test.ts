// The crawl of a CIFAR-10 conv net is not decided by its input (issue 13, acceptance 4): the input
// pooled to a few hundred smooth averages of the pixels (or narrower than the followed layer) is what
// every barely trained layer resembles, so it is left out as a candidate, with the reason under
// `excluded`. Constructed tensors; before this rule the verdict below was 'crawl' towards the input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyseCrawl, inputByConstruction } from '../../../core/analysis/crawl.ts';
import { analysisContext } from '../../../core/analysis/index.ts';
import type { FigureData } from '../../../core/figures/types.ts';

const FRACTIONS = [0, 0.03, 0.1, 0.3, 0.6, 0.99, 1];
const CIFAR = ['input', 'conv1', 'conv2', 'conv3', 'fc1', 'logits'];
/** features as stored for the pairs with fc1 (2,500 probe images, 'pool'): input 9×9×3, conv1 2×2×32, … */
const FEATURES: Record<string, number> = {
  input: 243,
  conv1: 128,
  conv2: 64,
  conv3: 64,
  fc1: 128,
  logits: 10,
};
const REDUCTION: Record<string, string> = { input: 'pool', conv1: 'pool', conv2: 'pool', conv3: 'pool' };

function tensor(
  layers: string[],
  rho: (i: number, j: number, t: number) => number,
  nullRho: (i: number, j: number) => number,
): FigureData {
  return {
    refLayers: layers,
    specLayers: layers,
    checkpoints: FRACTIONS.map((fraction, index) => ({ index, step: Math.round(fraction * 1000), fraction })),
    rho,
    rhoNull: (i, j) => nullRho(i, j),
  };
}

/** fc1 (j = 4) early on: its rho with the pooled input is the highest (0.9), its own final version 0.7. */
const fc1 = 4;
const data = tensor(
  CIFAR,
  (i, j, t) => {
    const f = FRACTIONS[t]!;
    if (j === fc1 && i === 0) return 0.9 - 0.3 * f;
    if (i === j) return Math.min(1, 0.7 + 0.3 * f);
    return 0.35;
  },
  () => 0.2,
);

const declared = (reduction: boolean) =>
  (['reference', 'specimen'] as const).flatMap((network) =>
    CIFAR.map((name) => ({
      network,
      name,
      features: FEATURES[name]!,
      samples: 2500,
      reduction: reduction ? (REDUCTION[name] ?? 'none') : null,
    })),
  );

describe('crawl: the input does not decide it', () => {
  it('without the layers’ reductions the pooled input wins every early checkpoint: a crawl by construction', () => {
    const a = analyseCrawl(data, 'fc1', analysisContext(data, declared(false), true));
    assert.equal(a.steps[0]!.mostSimilar, 'input');
    assert.equal(a.verdict, 'crawl');
  });

  it('a conv-reduced input is left out as a candidate, with the reason under excluded', () => {
    const ctx = analysisContext(data, declared(true), true);
    const a = analyseCrawl(data, 'fc1', ctx);
    const input = a.excluded.find((e) => e.layer === 'input');
    assert.equal(input?.code, 'structural-input');
    assert.match(input?.reason ?? '', /conv reduction of the image \('pool', 243 features\)/);
    for (const s of a.steps) {
      assert.notEqual(s.mostSimilar, 'input', `at ${s.fraction}`);
      assert.equal(s.scoreByLayer?.input, null);
      assert.equal(typeof s.rhoByLayer.input, 'number', 'its rho is still shown');
    }
    // fc1 resembles its own final version (0.7 against 0.35 elsewhere, null 0.2): no crawl, and the
    // left-out input does not make it inconclusive (it is out by construction, not for lack of data)
    assert.equal(a.steps[0]!.mostSimilar, 'fc1');
    assert.equal(a.verdict, 'no-crawl');
    assert.equal(a.reason, null);
  });

  it('an input with no more directions than the followed layer is left out too; a wider one stays', () => {
    // an MLP whose input (64 features) is narrower than fc2 (100): fc2 early is ~ an invertible map of it
    const layers = ['input', 'fc1', 'fc2', 'logits'];
    const d = tensor(
      layers,
      (i, j, t) => (j === 2 && i === 0 ? 0.95 : i === j ? 0.7 + 0.3 * FRACTIONS[t]! : 0.3),
      () => 0.1,
    );
    const widths = (input: number) =>
      (['reference', 'specimen'] as const).flatMap((network) =>
        layers.map((name) => ({
          network,
          name,
          features: name === 'input' ? input : name === 'logits' ? 10 : 100,
          samples: 10_000,
        })),
      );
    const narrow = analyseCrawl(d, 'fc2', analysisContext(d, widths(64), true));
    const out = narrow.excluded.find((e) => e.code === 'structural-input');
    assert.match(out?.reason ?? '', /it has 64 directions, no more than fc2's 100/);
    assert.equal(narrow.verdict, 'no-crawl');
    // 784 features (MNIST's input) against 100: the input stays a candidate and wins on evidence
    const wide = analyseCrawl(d, 'fc2', analysisContext(d, widths(784), true));
    assert.equal(inputByConstruction(d, analysisContext(d, widths(784), true), 'fc2'), null);
    assert.equal(wide.steps[0]!.mostSimilar, 'input');
    assert.equal(wide.verdict, 'crawl');
    // without layer facts nothing is left out (the rule needs the widths)
    assert.equal(inputByConstruction(d, {}, 'fc2'), null);
  });
});
