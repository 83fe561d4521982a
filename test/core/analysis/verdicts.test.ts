// The verdict rules on constructed tensors. Each case is one the analysis before issue 13 got wrong:
// the width confound (a layer wins on raw rho only because its null is high), the trivial final
// checkpoint (rho = 1 by construction when Net_S = Net_R), the degenerate input (n < 10 x width: the
// input's rho and null are both ~1) and pure noise (every cell at its null).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyseCrawl, convergenceOf } from '../../../core/analysis/crawl.ts';
import type { AnalysisContext } from '../../../core/analysis/evidence.ts';
import type { FigureData } from '../../../core/figures/types.ts';

const FRACTIONS = [0, 0.03, 0.1, 0.3, 0.6, 0.99, 1];

/** A tensor over `layers` (both networks) with rho and null given per (i, j, t). */
function tensor(
  layers: string[],
  rho: (i: number, j: number, t: number) => number,
  nullRho: (i: number, j: number, t: number) => number,
  ranks?: (i: number, j: number) => [number, number],
): FigureData {
  return {
    refLayers: layers,
    specLayers: layers,
    checkpoints: FRACTIONS.map((fraction, index) => ({ index, step: Math.round(fraction * 1000), fraction })),
    rho,
    rhoNull: nullRho,
    adjusted: (i, j, t) => (rho(i, j, t) - nullRho(i, j, t)) / (1 - nullRho(i, j, t)),
    ...(ranks && { ranks: (i: number, j: number) => ranks(i, j) }),
  };
}

const MNIST = ['input', 'fc1', 'fc2', 'fc3', 'logits'];
const WIDTH: Record<string, number> = { input: 784, fc1: 500, fc2: 500, fc3: 500, logits: 10 };

function context(samples: number, widths = WIDTH, sameNetwork = true): AnalysisContext {
  const facts = (network: 'reference' | 'specimen') =>
    Object.entries(widths).map(([name, width]) => ({ network, name, width, samples }));
  return { layers: { reference: facts('reference'), specimen: facts('specimen') }, sameNetwork };
}

describe('verdict rules', () => {
  it('width confound: a lower layer that wins on raw rho but sits below its own null is no crawl', () => {
    // The case: fc3 early on has rho 0.87 with fc1 — below that pair's null 0.89 — and 0.8
    // with its own final version, whose null is 0.3. Raw rho says fc1 (a crawl); the adjusted score
    // says fc3 itself.
    const data = tensor(
      MNIST,
      (i, j, t) => (j === 3 && i === 1 ? 0.87 : i === j ? Math.min(1, 0.8 + 0.2 * FRACTIONS[t]!) : 0.4),
      (i, j) => (j === 3 && i === 1 ? 0.89 : 0.3),
    );
    const a = analyseCrawl(data, 'fc3', context(10_000));
    assert.equal(a.score, 'rho_adjusted');
    assert.equal(a.steps[0]!.mostSimilar, 'fc3');
    assert.ok((a.steps[0]!.scoreByLayer!.fc1 as number) < 0, 'fc1 is below its null');
    assert.equal(a.verdict, 'no-crawl');
    assert.equal(a.reason, null);
  });

  it('width confound: the narrow logits do not win the crawl by construction', () => {
    // logits (10 wide) has the highest raw rho with fc3 at every checkpoint; it is left out as a
    // candidate, and fc2 (a lower layer, above its null by far) decides.
    const data = tensor(
      MNIST,
      (i, j, t) => {
        if (i === 4) return 0.97;
        if (j === 3 && i === 2) return FRACTIONS[t]! <= 0.3 ? 0.85 : 0.6;
        return i === j ? 0.5 + 0.5 * FRACTIONS[t]! : 0.3;
      },
      () => 0.2,
    );
    const a = analyseCrawl(data, 'fc3', context(10_000));
    assert.ok(a.excluded.some((e) => e.layer === 'logits'));
    assert.ok(a.steps.every((s) => s.mostSimilar !== 'logits'));
    assert.equal(a.verdict, 'crawl');
  });

  it('trivial final checkpoint: reaching the threshold only at the end is not converging', () => {
    // Net_S = Net_R: the diagonal is 1 at the final checkpoint by construction; before it no layer
    // reaches the threshold.
    const data = tensor(
      MNIST,
      (i, j, t) => (i === j ? (t === FRACTIONS.length - 1 ? 1 : 0.3 + 0.5 * FRACTIONS[t]!) : 0.3),
      () => 0.2,
    );
    const c = convergenceOf(data, { threshold: 0.9 }, context(10_000));
    for (const l of c.layers.filter((x) => x.layer !== 'input')) assert.equal(l.convergedAt, null, l.layer);
    assert.equal(c.verdict, 'inconclusive');
    assert.match(c.reason ?? '', /^no-convergence/);
    assert.ok(c.excluded.some((e) => e.code === 'final-checkpoint' && /Net_S = Net_R/.test(e.reason)));
    // a genuine order before the end is still found
    const ordered = tensor(
      MNIST,
      (i, j, t) => (i === j ? (FRACTIONS[t]! >= [0, 0.03, 0.1, 0.3, 1][i]! ? 1 : 0.4) : 0.3),
      () => 0.2,
    );
    const b = convergenceOf(ordered, { threshold: 0.9 }, context(10_000));
    assert.deepEqual(
      b.layers.map((l) => l.convergedAt),
      [0, 0.03, 0.1, 0.3, null],
    );
    assert.equal(b.verdict, 'bottom-up');
    assert.equal(b.reason, null);
  });

  it('degenerate input: 256 samples for a 784-wide input make the crawl inconclusive, naming the input', () => {
    // The README's tiny example: the input's rho with everything is ~1 (and so is its null); today's
    // analysis calls it a crawl towards the input.
    const layers = ['input', 'fc1', 'fc2', 'logits'];
    const data = tensor(
      layers,
      (i, j, t) => (i === 0 ? 0.99999 : i === j ? 0.6 + 0.4 * FRACTIONS[t]! : 0.35),
      (i) => (i === 0 ? 1 : 0.3),
    );
    const ctx = context(256, { input: 784, fc1: 32, fc2: 32, logits: 10 });
    const a = analyseCrawl(data, 'fc2', ctx);
    assert.notEqual(a.steps[0]!.mostSimilar, 'input');
    assert.equal(a.verdict, 'inconclusive');
    assert.match(a.reason ?? '', /^few-samples: input has 784 features and 256 samples/);
    assert.ok(a.excluded.some((e) => e.code === 'few-samples' && e.layer === 'input'));
    // without the layer facts, the null near 1 still leaves the input out
    const bare = analyseCrawl(data, 'fc2');
    assert.equal(bare.verdict, 'inconclusive');
    assert.match(bare.reason ?? '', /null-near-one: input/);
  });

  it('pure noise: every cell at its null gives neither bottom-up nor crawl', () => {
    // independent data: rho equals its null up to ±0.002; the widest (input) has the highest rho
    const jitter = (i: number, j: number, t: number) => 0.002 * Math.sin(1 + 7 * i + 13 * j + 29 * t);
    const nullOf = (i: number, j: number) => Math.sqrt(Math.max(WIDTH[MNIST[i]!]!, WIDTH[MNIST[j]!]!) / 2499);
    const data = tensor(
      MNIST,
      (i, j, t) => (i === j && t === FRACTIONS.length - 1 ? 1 : nullOf(i, j) + jitter(i, j, t)),
      (i, j) => nullOf(i, j),
      (i, j) => [Math.min(WIDTH[MNIST[i]!]!, 2499), Math.min(WIDTH[MNIST[j]!]!, 2499)],
    );
    const ctx = context(2500);
    const a = analyseCrawl(data, 'fc3', ctx);
    const c = convergenceOf(data, { threshold: 0.9 }, ctx);
    assert.equal(a.verdict, 'inconclusive');
    assert.match(a.reason ?? '', /no-evidence/);
    assert.equal(c.verdict, 'inconclusive');
    assert.match(c.reason ?? '', /no-convergence/);
  });

  it("the demo's measured diagonal is bottom-up at the default threshold", () => {
    // rho of each layer to its final version at 0 %, 2.2 %, 46 %, 99 % and 100 % of training, measured
    // by `npm run demo` (mnist-fc, n = 2500; nulls 0.447 for the 500-wide layers, 0.065 for logits)
    const rho: Record<string, number[]> = {
      input: [1, 1, 1, 1, 1],
      fc1: [0.793, 0.814, 0.921, 0.997, 1],
      fc2: [0.664, 0.691, 0.839, 0.991, 1],
      fc3: [0.6, 0.631, 0.778, 0.979, 1],
      logits: [0.444, 0.793, 0.952, 0.997, 1],
    };
    const nulls: Record<string, number> = { input: 0.5, fc1: 0.447, fc2: 0.447, fc3: 0.447, logits: 0.065 };
    const fractions = [0, 0.022, 0.46, 0.99, 1];
    const data: FigureData = {
      refLayers: MNIST,
      specLayers: MNIST,
      checkpoints: fractions.map((fraction, index) => ({
        index,
        step: Math.round(fraction * 938),
        fraction,
      })),
      rho: (i, j, t) => (i === j ? rho[MNIST[i]!]![t]! : 0.3),
      rhoNull: (i, j) => (i === j ? nulls[MNIST[i]!]! : 0.45),
    };
    const c = convergenceOf(data, {}, context(2500));
    assert.equal(c.threshold, 0.8);
    assert.deepEqual(
      c.layers.map((l) => l.convergedAt),
      [0, 0.46, 0.99, 0.99, 0.46], // input and logits are left out of the verdict
    );
    assert.equal(c.verdict, 'bottom-up');
    // at 0.9 every hidden layer first gets there at the ~99 % checkpoint: a tie, not evidence
    const strict = convergenceOf(data, { threshold: 0.9 }, context(2500));
    assert.equal(strict.verdict, 'inconclusive');
  });
});
