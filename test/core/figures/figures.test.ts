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
      [0, 0.03, 0.6, 0.99],
    );
    // asking for the end itself still shows the final checkpoint
    assert.deepEqual(
      nearestCheckpoints(cps, [1]).map((c) => c.fraction),
      [1],
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
      '0% of training (step 0 of 2000)',
      '3% of training (step 60 of 2000)',
      '60% of training (step 1200 of 2000)',
      '99% of training (step 1980 of 2000)',
    ])
      assert.ok(texts.includes(pane), pane);
    assert.ok(!texts.some((t) => t.startsWith('100% of training')), 'the final checkpoint is not a panel');
    for (const name of LAYERS) assert.ok(texts.includes(name), name);
    assert.ok(texts.includes('final (reference) layer'));
    assert.ok(texts.includes('layer during training (specimen)'));
    assert.ok(texts.includes('rho'), 'color legend');
    assert.ok(texts.includes('1.00'), 'cell labels');
  });

  it("never shows the final checkpoint as the '99 %' panel, and names each panel's step", async () => {
    // an experiment without a ~99 % checkpoint (schedules before it existed): the last panel is the
    // latest checkpoint before the end, and the subtitle says which checkpoint each panel is
    const data = syntheticTensor({ fractions: [0, 0.01, 0.03, 0.1, 0.3, 0.6, 1] });
    const texts = svgTexts(await heatmapsSvg(data, [0, 0.03, 0.5, 0.99]));
    assert.ok(texts.includes('60% of training (step 1200 of 2000)'));
    assert.ok(!texts.some((t) => t.startsWith('100% of training')), texts.join(' | '));
    assert.ok(
      texts.some((t) => t.includes('50%/99% → 60% (step 1200)')),
      texts.filter((t) => t.startsWith('panels')).join(' | '),
    );
  });

  it('states n, the measure, the null, the conv reductions and the warnings', async () => {
    const svg = await heatmapsSvg(syntheticTensor(), undefined, {
      notes: {
        samples: { input: 256, fc1: 256, fc2: 256, fc3: 256, logits: 256 },
        reductions: { conv1: 'average-pooled from 32×32 to 4×4 regions, flattened: 512 features' },
        warnings: [
          {
            code: 'few-samples',
            layer: 'input',
            message: "layer 'input' has 784 features and 256 samples",
          },
        ],
      },
    });
    assertSvg(svg);
    const all = svgTexts(svg).join('\n');
    assert.match(all, /measure: rho \(mean CCA coefficient\) · n = 256 samples per layer/);
    assert.match(all, /null: random baseline/);
    assert.match(all, /conv1 → average-pooled from 32×32 to 4×4 regions/);
    assert.match(all, /1 warning:/);
    assert.match(all, /few-samples: layer 'input' has 784 features and 256 samples/);
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
    const svg = await convergenceSvg(syntheticTensor(), { notes: { networks: 'same' } });
    assertSvg(svg);
    const texts = svgTexts(svg);
    assert.ok(texts.includes('Bottom-up convergence: each layer vs its own final version'));
    for (const name of LAYERS) assert.ok(texts.includes(name), name);
    for (const label of ['fraction of training', '0%', '50%', '100%'])
      assert.ok(texts.includes(label), label);
    assert.ok(
      texts.some((t) => t.startsWith('baseline ')),
      'labelled baseline',
    );
    assert.match(svg, /stroke-dasharray="6,4"/, 'dashed baseline');
  });

  it("says a two-network experiment compares each layer with the reference network's layer of the same name", async () => {
    const texts = svgTexts(await convergenceSvg(syntheticTensor(), { notes: { networks: 'different' } }));
    assert.ok(
      texts.includes(
        "Convergence to the reference: each specimen layer vs the reference network's layer of the same name",
      ),
      texts.slice(0, 3).join(' | '),
    );
    assert.ok(texts.includes("specimen layer (vs the reference's layer of the same name)"), 'legend title');
    assert.ok(!texts.some((t) => t.includes('own final version')));
  });

  it('draws one labelled baseline per distinct value: equal-width layers share one line', async () => {
    const data = syntheticTensor();
    // fc1-fc3 are equally wide (same baseline); input and logits differ
    const widths = [0.2, 0.31, 0.31, 0.31, 0.05];
    const svg = await convergenceSvg({ ...data, baseline: (i) => widths[i] });
    const texts = svgTexts(svg);
    assert.ok(
      texts.includes('baseline fc1, fc2, fc3: 0.31'),
      texts.filter((t) => t.startsWith('baseline')).join(' | '),
    );
    assert.ok(texts.includes('baseline input: 0.20'));
    assert.ok(texts.includes('baseline logits: 0.05'));
    assert.equal(texts.filter((t) => t.startsWith('baseline ')).length, 3);
  });

  it('gives the plot the figure width: no empty band beside it', async () => {
    const svg = await convergenceSvg(syntheticTensor());
    const total = Number(/^<svg [^>]*width="([\d.]+)"/.exec(svg)?.[1]);
    const plots = [...svg.matchAll(/class="background"[^>]*d="M[\d.]+,[\d.]+h([\d.]+)v/g)].map((m) =>
      Number(m[1]),
    );
    const plot = Math.max(...plots);
    assert.ok(plot / total > 0.8, `plot ${plot} px of ${total} px`);
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
    assert.ok(
      texts.some((t) => t.startsWith('baseline ')),
      'labelled baseline',
    );
  });

  it('plots the width-insensitive adjusted score when the cells carry a null', async () => {
    const data = syntheticTensor();
    const nullOf = (i: number) => [0.9, 0.3, 0.3, 0.3, 0.6][i];
    const scored = {
      ...data,
      rhoNull: (i: number) => nullOf(i),
      adjusted: (i: number, j: number, t: number) => {
        const r = data.rho(i, j, t);
        return r === null ? null : (r - nullOf(i)) / (1 - nullOf(i));
      },
    };
    const texts = svgTexts(await crawlSvg(scored));
    assert.ok(texts.includes('adjusted score (rho − null) / (1 − null)'), 'y axis');
    assert.ok(texts.includes('null (adjusted score 0)'));
    assert.ok(texts.some((t) => t.startsWith('null: permutation null per cell')));
    // asked for rho, it plots rho
    const raw = svgTexts(await crawlSvg(scored, undefined, { score: 'rho' }));
    assert.ok(raw.includes('rho (mean CCA coefficient)'));
    // without a null in the cells it falls back to rho and says so
    assert.ok(svgTexts(await crawlSvg(data)).includes('rho (mean CCA coefficient)'));
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
      baseline: [
        [
          { rho: 0.1, cka: null },
          { rho: 0.2, cka: null },
          { rho: null, cka: null },
        ],
        [{ rho: 0.3, cka: null }],
      ],
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
