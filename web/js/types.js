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

/**
 * @typedef {Schemas['Estimate']} Estimate the full estimate (memory and time; an upload's once completed)
 * @typedef {Schemas['UploadEstimate']} UploadEstimate an upload's estimate before its arrays arrive
 * @typedef {Schemas['ExperimentSummary']} Summary
 * @typedef {Schemas['Slice']} Slice the JSON answer of GET …/tensor
 */

export {};
