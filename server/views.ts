// Turns experiment rows into API views.

import { convReductionWarnings } from '../core/analysis/conv-reduction.ts';
import { declaredWarnings } from '../core/analysis/index.ts';
import { type AnalysisWarning, dedupeWarnings } from '../core/analysis/warnings.ts';
import { type ExperimentRow, experimentInclude } from '../store/repository.ts';
import type { ExperimentView } from './schemas/experiment.ts';

export type { ExperimentRow };
export { experimentInclude };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function links(id: string): Record<string, string> {
  const base = `/v1/experiments/${id}`;
  return {
    self: base,
    events: `${base}/events`,
    tensor: `${base}/tensor?measure=rho&checkpoint=0`,
    cancel: `${base}/cancel`,
  };
}

/** links, plus where to upload and complete for an experiment on uploaded activations. */
export function uploadLinks(id: string): Record<string, string> {
  const base = `/v1/experiments/${id}`;
  return {
    ...links(id),
    activations: `${base}/activations/{network}/{checkpoint}/{layer}`,
    complete: `${base}/complete`,
  };
}

/**
 * The experiment's warnings: those its finished analysis stored (summary.warnings), else those known
 * from its layers' widths and samples; and how each conv layer was reduced (conv-reduction).
 */
export function experimentWarnings(row: Pick<ExperimentRow, 'summary' | 'layers'>): AnalysisWarning[] {
  const stored = (row.summary as { warnings?: unknown } | null)?.warnings;
  const known = Array.isArray(stored) ? (stored as AnalysisWarning[]) : declaredWarnings(row.layers);
  return dedupeWarnings([...known, ...convReductionWarnings(row.layers)]);
}

export function experimentView(row: ExperimentRow): ExperimentView {
  const names = (network: 'reference' | 'specimen') =>
    row.layers.filter((l) => l.network === network).map((l) => l.name);
  const details = (network: 'reference' | 'specimen') =>
    row.layers
      .filter((l) => l.network === network)
      .map((l) => ({
        name: l.name,
        kind: l.kind,
        features: l.features,
        samples: l.samples,
        reduction: l.reduction ?? null,
        reductionDetail: l.reductionDetail ?? null,
      }));
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    progress: { phase: row.status, fraction: row.progress, message: row.message, etaSeconds: row.etaSeconds },
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
    spec: row.spec,
    estimate: row.estimate,
    layers: { reference: names('reference'), specimen: names('specimen') },
    layerDetails: { reference: details('reference'), specimen: details('specimen') },
    checkpoints: (row.specimenRun?.checkpoints ?? []).map((c) => ({
      index: c.index,
      step: c.step,
      fraction: c.fraction,
      trainLoss: c.trainLoss,
      trainAccuracy: c.trainAccuracy,
      probeLoss: c.probeLoss,
      probeAccuracy: c.probeAccuracy,
    })),
    timings: {
      createdAt: row.createdAt.toISOString(),
      queuedAt: row.queuedAt.toISOString(),
      trainingAt: iso(row.trainingAt),
      capturingAt: iso(row.capturingAt),
      computingAt: iso(row.computingAt),
      finishedAt: iso(row.finishedAt),
    },
    backend: row.backend,
    summary: row.summary,
    warnings: experimentWarnings(row),
    links:
      (row.spec as { source?: unknown } | null)?.source === 'upload' ? uploadLinks(row.id) : links(row.id),
  };
}
