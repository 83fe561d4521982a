import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { figureDataFromCells } from '../../../core/figures/data.ts';
import { heatmapsSvg, nearestCheckpoints } from '../../../core/figures/heatmaps.ts';
import { convergenceSvg, crawlSvg } from '../../../core/figures/lines.ts';
import { percent } from '../../../core/figures/render.ts';
import { FRACTIONS, LAYERS, syntheticTensor } from './fixture.ts';
import { svgTexts, xmlProblem } from './xml.ts';

function assertSvg(svg: string) {
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(xmlProblem(svg), null);
}

describe('xml check', () => {
  it('accepts well-formed and rejects broken documents', () => {
    assert.equal(xmlProblem('<svg a="1"><g><text>a &amp; b</text></g><rect/></svg>'), null);
    assert.notEqual(xmlProblem('<svg><g></svg>'), null);
    assert.notEqual(xmlProblem('<svg><text>a < b</text></svg>'), null);
    assert.notEqual(xmlProblem('<svg><text>a & b</text></svg>'), null);
    assert.notEqual(xmlProblem('<svg a=1></svg>'), null);
    assert.notEqual(xmlProblem('<svg></svg><svg></svg>'), null);
  });
});

describe('percent', () => {
  it('formats fractions of training', () => {
    assert.equal(percent(0), '0%');
    assert.equal(percent(0.03), '3%');
    assert.equal(percent(0.03125), '3.1%');
    assert.equal(percent(0.005), '0.5%');
    assert.equal(percent(0.5), '50%');
    assert.equal(percent(0.99), '99%');
    assert.equal(percent(1), '100%');
  });
});

describe('nearestCheckpoints', () => {
  const cps = FRACTIONS.map((fraction, index) => ({ index, step: index, fraction }));
  it('picks the nearest checkpoint per fraction, in training order, without duplicates', () => {
    assert.deepEqual(
      nearestCheckpoints(cps, [0.99, 0, 0.03, 0.5]).map((c) => c.fraction),
      [0, 0.03, 0.6, 1],
    );
    assert.deepEqual(
      nearestCheckpoints(cps, [0.02, 0.021]).map((c) => c.fraction),
      [0.01, 0.03].slice(1),
    );
    assert.deepEqual(nearestCheckpoints([], [0.5]), []);
  });
});

describe('heatmaps (Figure 1)', () => {
  it('renders one titled pane per fraction with layer names and a rho legend', async () => {
    const svg = await heatmapsSvg(syntheticTensor(), [0, 0.03, 0.5, 0.99]);
    assertSvg(svg);
    const texts = svgTexts(svg);
    assert.ok(texts.includes('Layer-by-layer similarity (rho) during training'), 'title');
    for (const pane of [
      '0% of training (step 0)',
      '3% of training (step 60)',
      '60% of training (step 1200)',
      '100% of training (step 2000)',
    ])
      assert.ok(texts.includes(pane), pane);
    for (const name of LAYERS) assert.ok(texts.includes(name), name);
    assert.ok(texts.includes('final (reference) layer'));
    assert.ok(texts.includes('layer during training (specimen)'));
    assert.ok(texts.includes('rho'), 'color legend');
    assert.ok(texts.includes('1.00'), 'cell labels');
  });

  it('escapes layer names and survives missing cells', async () => {
    const data = syntheticTensor({ layers: ['input', 'a<b&"c"', 'logits'] });
    const svg = await heatmapsSvg({
      ...data,
      rho: (i, j, t) => (i === 1 && j === 1 ? null : data.rho(i, j, t)),
    });
    assertSvg(svg);
    assert.ok(svgTexts(svg).includes('a<b&"c"'));
  });
});

describe('convergence (Figure 2)', () => {
  it('draws one line per shared layer with dashed baselines and a fraction axis', async () => {
    const svg = await convergenceSvg(syntheticTensor());
    assertSvg(svg);
    const texts = svgTexts(svg);
    assert.ok(texts.includes('Bottom-up convergence: each layer vs its own final version'));
    for (const name of LAYERS) assert.ok(texts.includes(name), name);
    for (const label of ['fraction of training', 'random baseline', 'during training', '0%', '50%', '100%'])
      assert.ok(texts.includes(label), label);
    assert.match(svg, /stroke-dasharray="5,4"/, 'dashed baseline');
  });

  it('renders linearly and with no shared layer', async () => {
    assertSvg(await convergenceSvg(syntheticTensor(), { xScale: 'linear' }));
    const data = syntheticTensor();
    const svg = await convergenceSvg({ ...data, specLayers: ['x', 'y', 'z', 'w', 'v'] });
    assertSvg(svg);
    assert.match(svgTexts(svg).join('\n'), /no specimen layer has a reference layer of the same name/);
  });
});

describe('crawl (Figure 3)', () => {
  it('follows the top layer below logits by default, against every final layer', async () => {
    const svg = await crawlSvg(syntheticTensor());
    assertSvg(svg);
    const texts = svgTexts(svg);
    assert.ok(texts.includes('Top-down crawl: specimen layer fc3 vs every final layer'));
    for (const name of LAYERS) assert.ok(texts.includes(name), name);
    assert.ok(texts.includes('final (reference) layer'));
    assert.ok(texts.includes('random baseline'));
  });

  it('takes a named layer and refuses an unknown one', async () => {
    assert.ok(
      svgTexts(await crawlSvg(syntheticTensor(), 'fc1')).includes(
        'Top-down crawl: specimen layer fc1 vs every final layer',
      ),
    );
    await assert.rejects(crawlSvg(syntheticTensor(), 'nope'), RangeError);
  });
});

describe('figureDataFromCells', () => {
  it('indexes cells by (ref, spec, checkpoint index) and reads the baseline summary', () => {
    const data = figureDataFromCells({
      refLayers: ['input', 'fc1'],
      specLayers: ['input', 'fc1', 'logits'],
      checkpoints: [
        { index: 1, step: 10, fraction: 1 },
        { index: 0, step: 0, fraction: 0 },
      ],
      cells: [
        { refLayer: 0, specLayer: 0, checkpoint: 0, rho: 1 },
        { refLayer: 1, specLayer: 2, checkpoint: 1, rho: 0.25 },
        { refLayer: 5, specLayer: 0, checkpoint: 0, rho: 0.5 },
      ],
      baseline: [[{ rho: 0.1 }, { rho: 0.2 }, null], [{ rho: 0.3 }]],
    });
    assert.deepEqual(
      data.checkpoints.map((c) => c.index),
      [0, 1],
    );
    assert.equal(data.rho(0, 0, 0), 1);
    assert.equal(data.rho(1, 2, 1), 0.25);
    assert.equal(data.rho(1, 2, 0), null);
    assert.equal(data.rho(5, 0, 0), null);
    assert.equal(data.rho(0, 0, 7), null);
    assert.equal(data.baseline?.(0, 1), 0.2);
    assert.equal(data.baseline?.(0, 2), null);
    assert.equal(data.baseline?.(1, 0), 0.3);
    assert.equal(data.baseline?.(1, 1), null);
  });

  it('has no baseline without a summary table', () => {
    const data = figureDataFromCells({ refLayers: [], specLayers: [], checkpoints: [], cells: [] });
    assert.equal(data.baseline, undefined);
  });
});
