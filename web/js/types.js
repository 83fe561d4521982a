// The API's JSON contracts for the page, as JSDoc types taken from the generated OpenAPI types
// (openapi/schema.d.ts, `npm run openapi:types`), never copied: `npm run typecheck` checks the page
// against the same document the server answers with.

/**
 * @typedef {import('../../openapi/schema').components['schemas']} Schemas
 * @typedef {import('../../openapi/schema').paths} Paths
 * @typedef {Schemas['Experiment']} Experiment
 * @typedef {Experiment['status']} Status
 * @typedef {Experiment['progress']} Progress
 * @typedef {Experiment['checkpoints'][number]} Checkpoint
 * @typedef {Experiment['layerDetails']['reference'][number]} LayerDetail
 * @typedef {Schemas['AnalysisWarning']} Warning
 * @typedef {Paths['/v1/experiments/{id}/analysis']['get']['responses'][200]['content']['application/json']} AnalysisAnswer
 * @typedef {AnalysisAnswer['crawl']['steps'][number]} CrawlStep
 * @typedef {Paths['/v1/experiments']['get']['responses'][200]['content']['application/json']} ExperimentPage
 * @typedef {Paths['/v1/experiments/{id}/shares']['post']['responses'][201]['content']['application/json']} CreatedShare
 */

// The contracts below are added by the API now (dry run, presets, meta, typed slices); until the
// generated types carry them, these describe the documented answers.

/**
 * @typedef {{ shape: number[], axes: string[], measure: string,
 *   labels: { refLayer: string[], specLayer: string[], checkpoint: unknown },
 *   values: unknown, counts?: unknown }} Slice
 * @typedef {{ statuses: Status[], terminalStatuses: Status[], figureFractions: number[],
 *   measures: string[] }} Meta
 * @typedef {{ cells: number, checkpoints: number, memoryMB: number, diskMB: number,
 *   seconds: { training: number, capture: number, tensor: number, total: number } }} Estimate
 * @typedef {{ name: string, dataset: string, description: string,
 *   layers: Array<{ name: string, kind: string, features: number }>,
 *   defaults: { training: Record<string, unknown>, checkpoints: Record<string, unknown>,
 *     probe: Record<string, unknown> },
 *   example: Record<string, unknown> }} Preset
 * @typedef {{ presets: Preset[] }} PresetList
 * @typedef {AnalysisAnswer & { defaultTopLayer?: string }} Analysis the analysis with the crawl's default top layer
 * @typedef {{ dryRun: true, spec: unknown, estimate: Estimate, warnings: Warning[] }} DryRun
 * @typedef {{ id: string, status: Status, estimate: unknown, warnings?: Warning[] }} Submitted
 */

export {};
