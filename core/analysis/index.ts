// The analysis of a finished experiment, as the API answers it: the bottom-up and crawl verdicts
// with their evidence, and the warnings that limit what its numbers can say.
import type { FigureData } from '../tensor-data.ts';
import type { ConvergenceAnalysis } from './convergence.ts';
import {
  analyseCrawl,
  type CrawlAnalysis,
  convergenceOf,
  experimentWarnings,
  layerFactsFrom,
} from './crawl.ts';
import type { AnalysisContext } from './evidence.ts';
import { type AnalysisWarning, layerWarnings } from './warnings.ts';

export interface DeclaredLayer {
  network: 'reference' | 'specimen';
  name: string;
  /** features of its representation (0: not known yet, e.g. an upload before its arrays arrive) */
  features: number;
  samples: number;
  /** the conv reduction of its representation ('none' or absent: not reduced) */
  reduction?: string | null;
}

/** The verdicts' context from the experiment's layers (declared sizes, kept ranks) and whether Net_S = Net_R. */
export function analysisContext(
  data: FigureData,
  layers: DeclaredLayer[],
  sameNetwork: boolean,
): AnalysisContext {
  const side = (network: 'reference' | 'specimen') =>
    layers
      .filter((l) => l.network === network && l.features > 0)
      .map((l) => ({
        name: l.name,
        width: l.features,
        samples: l.samples,
        ...(l.reduction && l.reduction !== 'none' && { reduction: l.reduction }),
      }));
  const facts = layerFactsFrom(data, { reference: side('reference'), specimen: side('specimen') });
  const known = (list: typeof facts.reference) => list.filter((l) => l.width > 0);
  return { layers: { reference: known(facts.reference), specimen: known(facts.specimen) }, sameNetwork };
}

/** Warnings known before the run: from each layer's width and the number of samples (few-samples). */
export function declaredWarnings(layers: DeclaredLayer[]): AnalysisWarning[] {
  return layerWarnings(
    layers
      .filter((l) => l.features > 0)
      .map((l) => ({ network: l.network, name: l.name, width: l.features, samples: l.samples })),
  );
}

export interface ExperimentAnalysis {
  convergence: ConvergenceAnalysis;
  crawl: Omit<CrawlAnalysis, 'depth'>;
  warnings: AnalysisWarning[];
}

export function analyseExperiment(
  data: FigureData,
  ctx: AnalysisContext,
  options: { threshold?: number; layer?: string } = {},
): ExperimentAnalysis {
  const convergence = convergenceOf(data, { threshold: options.threshold }, ctx);
  const { depth: _depth, ...crawl } = analyseCrawl(data, options.layer, ctx);
  return { convergence, crawl, warnings: experimentWarnings(data, ctx) };
}
