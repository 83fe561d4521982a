// API commands of `repdyn` (REPDYN_URL, default http://127.0.0.1:8080; REPDYN_API_KEY):
//   submit SPEC.json [--wait] · estimate SPEC.json · presets · status ID · watch ID · cancel ID · delete ID
//   list [--status S] [--limit N] [--cursor C] [--all]
//   slice ID [--ref …] [--spec …] [--checkpoint …] [--measure …] --format npy|csv|json -o FILE
//   figures ID -o DIR · share ID · shares ID · unshare ID SHARE_ID
// Every request goes through one openapi-fetch client typed by openapi/schema.d.ts (generated from
// the server's OpenAPI document: `npm run openapi && npm run openapi:types`), so `npm run typecheck`
// checks each path, method, path/query parameter, body and answer against the API.
// `--json` on any command prints JSON on stdout (one document; `watch --json`: one line per change)
// and nothing else there; hints and warnings go to stderr.
// Exit codes: 0 done (watch: succeeded), 1 a server error or a failed experiment, 2 a usage error,
// 3 `watch` saw the experiment canceled (or deleted).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import createClient, { type Client } from 'openapi-fetch';
import { SLICE_MEASURES } from '../../core/slice.ts';
import { EXPERIMENT_STATUSES, TERMINAL_STATUSES } from '../../core/status.ts';
import type { components, paths } from '../../openapi/schema.d.ts';

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A non-2xx answer: `STATUS CODE: message`, with the status and code kept for callers that expect one. */
class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

// The API's shapes, from the generated OpenAPI document (openapi/schema.d.ts).
type Schemas = components['schemas'];
type Experiment = Schemas['Experiment'];
type Estimate = Schemas['Estimate'] | Schemas['UploadEstimate'];
type Spec = paths['/v1/experiments']['post']['requestBody']['content']['application/json'];
type SliceQuery = NonNullable<paths['/v1/experiments/{id}/tensor']['get']['parameters']['query']>;

const FORMATS = ['npy', 'csv', 'json'] as const;

/** Whether `value` is one of `choices` (then typed as one). */
const isOneOf = <T extends string>(choices: readonly T[], value: string): value is T =>
  choices.some((choice) => choice === value);

/** A flag's value, if given, as one of `choices`; anything else is a usage error (exit 2). */
function oneOf<T extends string>(flag: string, value: string | undefined, choices: readonly T[]) {
  if (value === undefined || isOneOf(choices, value)) return value;
  throw new CliError(`${flag} must be one of ${choices.join(', ')} (got ${JSON.stringify(value)})`, 2);
}

interface Api {
  client: Client<paths>;
  base: string;
}

function connect(): Api {
  const base = (process.env['REPDYN_URL'] ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const key = process.env['REPDYN_API_KEY'];
  if (!key)
    throw new CliError('set REPDYN_API_KEY (create one with `repdyn admin create-team --name NAME`)', 2);
  const client = createClient<paths>({
    baseUrl: base,
    headers: { authorization: `Bearer ${key}` },
    fetch: (request) =>
      fetch(request).catch((err: unknown) => {
        const why = err instanceof Error ? (err.cause ?? err) : err;
        throw new CliError(`cannot reach ${base} (${why}); is the API running (npm start)?`);
      }),
  });
  return { client, base };
}

/** What an openapi-fetch request resolves to: the 2xx body as `data`, or the error body as `error`. */
type Outcome<D> =
  | { data: D; error?: never; response: Response }
  | { data?: never; error: unknown; response: Response };

/** The 2xx answer of a request; any other status is an ApiError made from the server's error body. */
async function settle<D>(pending: Promise<Outcome<D>>): Promise<{ data: D | undefined; response: Response }> {
  const { data, error, response } = await pending;
  if (!response.ok) {
    const body = typeof error === 'object' && error !== null ? error : {};
    const code = 'code' in body && typeof body.code === 'string' ? body.code : 'ERROR';
    const message =
      'message' in body && typeof body.message === 'string' ? body.message : response.statusText;
    throw new ApiError(response.status, code, message);
  }
  return { data, response };
}

/** The body of a 2xx answer that has one, as the OpenAPI document types it. */
async function ok<D>(pending: Promise<Outcome<D>>): Promise<{ data: NonNullable<D>; response: Response }> {
  const { data, response } = await settle(pending);
  if (data == null) throw new CliError(`${response.status}: the API answered without a body`);
  return { data, response };
}

function bar(e: Experiment): string {
  const f = e.progress.fraction;
  const width = 30;
  const eta =
    e.progress.etaSeconds != null && !isOneOf(TERMINAL_STATUSES, e.status)
      ? ` ETA ${Math.round(e.progress.etaSeconds)}s`
      : '';
  return `${'█'.repeat(Math.round(f * width)).padEnd(width, '░')} ${(f * 100).toFixed(0).padStart(3)}% ${String(e.status).padEnd(9)} ${String(e.progress.message).slice(0, 50)}${eta}`;
}

async function getExperiment({ client }: Api, id: string): Promise<Experiment> {
  return (await ok(client.GET('/v1/experiments/{id}', { params: { path: { id } } }))).data;
}

/** The experiment, or null once it is gone (deleted while watched). */
async function getOrGone(api: Api, id: string): Promise<Experiment | null> {
  try {
    return await getExperiment(api, id);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'EXPERIMENT_NOT_FOUND') return null;
    throw err;
  }
}

/**
 * Follows an experiment until a terminal status and ends there: succeeded exits 0, failed 1,
 * canceled (or deleted while watched) 3. With `asJson`, one JSON line per change, nothing else.
 */
async function watch(api: Api, id: string, asJson = false): Promise<number> {
  const tty = process.stdout.isTTY && !asJson;
  let last = '';
  let seen = false;
  for (;;) {
    const e = await (seen ? getOrGone(api, id) : getExperiment(api, id));
    if (e === null) {
      if (tty) process.stdout.write('\n');
      if (asJson) console.log(JSON.stringify({ id, status: 'deleted' }));
      else console.error(`repdyn watch: experiment ${id} was deleted`);
      return 3;
    }
    seen = true;
    const terminal = isOneOf(TERMINAL_STATUSES, e.status);
    if (asJson) {
      const line = JSON.stringify({ id: e.id, status: e.status, progress: e.progress, error: e.error });
      if (line !== last) console.log(line);
      last = line;
    } else {
      const line = bar(e);
      if (tty) process.stdout.write(`\r${line.padEnd(110)}`);
      else if (line !== last) console.log(line);
      last = line;
    }
    if (terminal) {
      if (tty) process.stdout.write('\n');
      if (e.status === 'failed') {
        if (!asJson) console.error(`repdyn watch: failed ${e.error?.code}: ${e.error?.message}`);
        return 1;
      }
      if (e.status === 'canceled') {
        if (!asJson) console.error('repdyn watch: canceled');
        return 3;
      }
      return 0;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The spec file's JSON as the request body. Unchecked here on purpose: the server validates it and
 * explains what is wrong (400); openapi-fetch sends it as JSON.stringify writes it.
 */
function readSpec(file: string): Spec {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`, 2);
  }
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 200)
    throw new CliError(`${flag} must be an integer from 1 to 200 (got ${JSON.stringify(value)})`, 2);
  return n;
}

function listLine(e: Experiment): string {
  return `${e.id}  ${String(e.status).padEnd(9)} ${(e.progress.fraction * 100).toFixed(0).padStart(3)}%  ${e.name}`;
}

/** The estimate in a few lines (seconds and megabytes as the server computed them). */
function describeEstimate(est: Estimate): string[] {
  if (!est || typeof est !== 'object') return [`estimate: ${JSON.stringify(est)}`];
  const tensor = `tensor   ${est.cells} cells over ${est.checkpoints} checkpoints`;
  // an upload's estimate before its arrays arrive: its size, and how the rest is estimated
  if (!('seconds' in est)) return [tensor, `samples  ${est.samples}; ${est.note}`];
  const s = est.seconds;
  return [
    `time     ~${Math.round(s.total)} s (training ${Math.round(s.training)} s, capture ${Math.round(s.capture)} s, tensor ${Math.round(s.tensor)} s)`,
    `memory   ~${Math.round(est.memoryMB)} MB, disk ~${Math.round(est.diskMB)} MB`,
    tensor,
    `largest  representation ${est.representation.maxSamples} samples x ${est.representation.maxFeatures} features`,
  ];
}

/** The experiment's warnings, one line each on stderr (stdout stays the JSON or the id). */
function printWarnings(warnings: Schemas['AnalysisWarning'][]): void {
  for (const w of warnings) console.error(`warning: ${w.code}: ${w.message}`);
}

type Options = NonNullable<Parameters<typeof parseArgs>[0]>;

/** parseArgs, with an unknown or malformed option reported as a usage error (exit 2). */
function parseOrExplain<T extends Options>(command: string | undefined, config: T) {
  try {
    return parseArgs(config);
  } catch (err) {
    console.error(`repdyn ${command}: ${(err as Error).message}; see \`repdyn help\``);
    return null;
  }
}

export async function run(argv: string[], command?: string): Promise<number> {
  const parsed = parseOrExplain(command, {
    args: argv,
    allowPositionals: true,
    options: {
      wait: { type: 'boolean' },
      status: { type: 'string' },
      ref: { type: 'string' },
      spec: { type: 'string' },
      checkpoint: { type: 'string' },
      measure: { type: 'string' },
      format: { type: 'string' },
      output: { type: 'string', short: 'o' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  const asJson = values.json === true;
  const print = (doc: unknown) => console.log(JSON.stringify(doc, null, 2));
  const [arg] = positionals;
  let connection: Api | undefined;
  /** The API client, made at the first request (after the usage checks). */
  const api = () => {
    connection ??= connect();
    return connection;
  };
  const need = (what: string) => {
    if (!arg) throw new CliError(`${command}: missing ${what}`, 2);
    return arg;
  };
  try {
    switch (command) {
      case 'submit': {
        const body = readSpec(need('SPEC.json'));
        const { data: sub } = await ok(api().client.POST('/v1/experiments', { body }));
        if ('dryRun' in sub) throw new CliError('the API answered a submission with a dry run');
        if (asJson) print(sub);
        else console.log(sub.id);
        printWarnings(sub.warnings);
        // awaited here, so that its errors are reported as this command's
        return values.wait ? await watch(api(), sub.id, asJson) : 0;
      }
      case 'presets': {
        const { presets } = (await ok(api().client.GET('/v1/presets'))).data;
        if (asJson) print(presets);
        else
          for (const p of presets) {
            const layers = p.layers.map((l) => `${l.name} [${l.features}]`).join(' → ');
            const t = p.defaults.training;
            const opt = t.optimizer
              ? `${t.optimizer.type} lr ${t.optimizer.learningRate}`
              : 'default optimizer';
            console.log(`${p.name} (${p.dataset}): ${layers}`);
            const c = p.defaults.checkpoints;
            const schedule = 'count' in c ? `${c.count} ${c.spacing ?? ''}` : `${c.steps.length} explicit`;
            console.log(
              `  defaults: ${t.epochs ?? '?'} epochs, batch ${t.batchSize ?? '?'}, ${opt}; ${schedule} checkpoints`,
            );
          }
        return 0;
      }
      case 'estimate': {
        const body = readSpec(need('SPEC.json'));
        const { client, base } = api();
        const { data: dry, response } = await ok(
          client.POST('/v1/experiments', { params: { query: { dryRun: true } }, body }),
        );
        if (response.status !== 200 || !('dryRun' in dry) || dry.dryRun !== true) {
          // a server from before dry runs queued it: take it back
          if ('id' in dry && dry.id)
            await settle(client.DELETE('/v1/experiments/{id}', { params: { path: { id: dry.id } } })).catch(
              () => undefined,
            );
          throw new CliError(
            `the API at ${base} does not support dry runs (POST /v1/experiments?dryRun=true answered ${response.status}); update it`,
          );
        }
        if (asJson) print(dry);
        else for (const line of describeEstimate(dry.estimate)) console.log(line);
        printWarnings(dry.warnings);
        return 0;
      }
      case 'status': {
        const e = await getExperiment(api(), need('ID'));
        print(e);
        if (!asJson) printWarnings(e.warnings);
        return 0;
      }
      case 'watch': {
        const id = need('ID');
        return await watch(api(), id, asJson);
      }
      case 'list': {
        const limit = positiveInt(values.limit, '--limit');
        const status = oneOf('--status', values.status || undefined, EXPERIMENT_STATUSES);
        if (values.all && values.cursor) throw new CliError('--all starts at the newest; drop --cursor', 2);
        const items: Experiment[] = [];
        let cursor = values.cursor || undefined;
        let next: string | null = null;
        for (;;) {
          const query = { status, limit: limit ?? (values.all ? 200 : 50), cursor };
          const { data: page } = await ok(api().client.GET('/v1/experiments', { params: { query } }));
          if (!asJson) for (const e of page.items) console.log(listLine(e));
          items.push(...page.items);
          next = page.nextCursor;
          if (!values.all || !next) break;
          cursor = next;
        }
        if (asJson) print({ items, nextCursor: next });
        else if (next)
          console.error(
            `more: repdyn list --cursor ${next}${values.limit ? ` --limit ${values.limit}` : ''}${values.status ? ` --status ${values.status}` : ''} (or --all)`,
          );
        return 0;
      }
      case 'cancel': {
        const id = need('ID');
        const { data: e } = await ok(
          api().client.POST('/v1/experiments/{id}/cancel', { params: { path: { id } } }),
        );
        if (asJson) print(e);
        else console.log(e.status);
        return 0;
      }
      case 'delete': {
        const id = need('ID');
        await settle(api().client.DELETE('/v1/experiments/{id}', { params: { path: { id } } }));
        if (asJson) print({ id, deleted: true });
        else console.log('deleted');
        return 0;
      }
      case 'slice': {
        const id = need('ID');
        const format = values.format ?? 'json';
        if (!isOneOf(FORMATS, format)) throw new CliError('--format must be npy, csv or json', 2);
        if (!values.output) throw new CliError('slice: -o FILE is required', 2);
        const query: SliceQuery = {
          format,
          measure: oneOf('--measure', values.measure, SLICE_MEASURES) ?? 'rho',
          refLayer: values.ref || undefined,
          specLayer: values.spec || undefined,
          checkpoint: values.checkpoint || undefined,
        };
        const { data } = await ok(
          api().client.GET('/v1/experiments/{id}/tensor', {
            params: { path: { id }, query },
            parseAs: 'arrayBuffer',
          }),
        );
        writeFileSync(values.output, Buffer.from(data));
        if (asJson) print({ files: [values.output] });
        else console.log(`wrote ${values.output}`);
        return 0;
      }
      case 'figures': {
        const id = need('ID');
        if (!values.output) throw new CliError('figures: -o DIR is required', 2);
        mkdirSync(values.output, { recursive: true });
        const files: string[] = [];
        const { client } = api();
        const params = { path: { id } };
        const parseAs = 'arrayBuffer';
        const figures: [string, () => Promise<Outcome<ArrayBuffer>>][] = [
          [
            'figure1-heatmaps.svg',
            () =>
              client.GET('/v1/experiments/{id}/figures/heatmaps.svg', {
                params: { ...params, query: { fractions: '0,0.03,0.5,0.99' } },
                parseAs,
              }),
          ],
          [
            'figure2-convergence.svg',
            () => client.GET('/v1/experiments/{id}/figures/convergence.svg', { params, parseAs }),
          ],
          [
            'figure3-crawl.svg',
            () => client.GET('/v1/experiments/{id}/figures/crawl.svg', { params, parseAs }),
          ],
        ];
        for (const [file, request] of figures) {
          const { data } = await ok(request());
          writeFileSync(join(values.output, file), Buffer.from(data));
          files.push(join(values.output, file));
          if (!asJson) console.log(`wrote ${join(values.output, file)}`);
        }
        if (asJson) print({ files });
        return 0;
      }
      case 'share': {
        const id = need('ID');
        const { client, base } = api();
        const { data: s } = await ok(
          client.POST('/v1/experiments/{id}/shares', { params: { path: { id } } }),
        );
        if (asJson) print({ ...s, url: `${base}${s.pageUrl}` });
        else console.log(`${base}${s.pageUrl}`);
        return 0;
      }
      case 'shares': {
        const id = need('ID');
        const { data: page } = await ok(
          api().client.GET('/v1/experiments/{id}/shares', { params: { path: { id } } }),
        );
        if (asJson) print(page);
        else for (const s of page.items) console.log(`${s.id}  ${s.createdAt}  key ${s.keyId ?? '-'}`);
        return 0;
      }
      case 'unshare': {
        const shareId = positionals[1];
        if (!shareId) throw new CliError('unshare: missing SHARE_ID', 2);
        const id = need('ID');
        await settle(
          api().client.DELETE('/v1/experiments/{id}/shares/{shareId}', { params: { path: { id, shareId } } }),
        );
        if (asJson) print({ id: shareId, revoked: true });
        else console.log('revoked');
        return 0;
      }
      default:
        throw new CliError(`unknown command ${command}`, 2);
    }
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`repdyn ${command}: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
}
