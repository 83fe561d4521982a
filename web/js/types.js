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

/**
 * @typedef {AnalysisAnswer} Analysis the analysis, with the crawl's default top layer
 * @typedef {Paths['/v1/meta']['get']['responses'][200]['content']['application/json']} Meta
 * @typedef {Paths['/v1/presets']['get']['responses'][200]['content']['application/json']} PresetList
 * @typedef {PresetList['presets'][number]} Preset
 * @typedef {Paths['/v1/experiments']['post']['responses'][200]['content']['application/json']} DryRun
 * @typedef {Paths['/v1/experiments']['post']['responses'][202]['content']['application/json']} Submitted
 */

// Not typed by the API yet (the schema says `unknown`): the estimate object and a JSON slice.

/**
 * @typedef {{ cells: number, checkpoints: number, memoryMB: number, diskMB: number,
 *   seconds: { training: number, capture: number, tensor: number, total: number } }} Estimate
 * @typedef {{ shape: number[], axes: string[], measure: string,
 *   labels: { refLayer: string[], specLayer: string[], checkpoint: unknown },
 *   values: unknown, counts?: unknown }} Slice
 */

export {};
