// Turns experiment rows into API views.

import { convReductionWarnings } from '../core/analysis/conv-reduction.ts';
import { declaredWarnings } from '../core/analysis/index.ts';
import { type AnalysisWarning, dedupeWarnings } from '../core/analysis/warnings.ts';
import type { ExperimentEstimate } from '../core/contracts/estimate.ts';
import { fromJson } from '../core/contracts/json.ts';
import type { ExperimentSummary } from '../core/contracts/summary.ts';
import type { ExperimentSpec } from '../core/spec/experiment.ts';
import { isUploadSpec, type UploadExperimentSpec } from '../core/spec/upload.ts';
import { type ExperimentRow, experimentInclude } from '../store/repository.ts';
import type { ExperimentView } from './schemas/experiment.ts';

export type { ExperimentRow };
export { experimentInclude };

/** The spec an experiment was submitted with. */
type SubmittedSpec = ExperimentSpec | UploadExperimentSpec;

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
  const stored = fromJson<ExperimentSummary | null>(row.summary)?.warnings;
  const known = Array.isArray(stored) ? stored : declaredWarnings(row.layers);
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
    spec: fromJson<SubmittedSpec>(row.spec),
    estimate: fromJson<ExperimentEstimate | null>(row.estimate),
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
    summary: fromJson<ExperimentSummary | null>(row.summary),
    warnings: experimentWarnings(row),
    links: isUploadSpec(row.spec) ? uploadLinks(row.id) : links(row.id),
  };
}
