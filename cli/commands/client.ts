// API commands of `repdyn` (REPDYN_URL, default http://127.0.0.1:8080; REPDYN_API_KEY):
//   submit SPEC.json [--wait] · estimate SPEC.json · presets · status ID · watch ID · cancel ID · delete ID
//   list [--status S] [--limit N] [--cursor C] [--all]
//   slice ID [--ref …] [--spec …] [--checkpoint …] [--measure …] --format npy|csv|json -o FILE
//   figures ID -o DIR · share ID · shares ID · unshare ID SHARE_ID
// `--json` on any command prints JSON on stdout (one document; `watch --json`: one line per change)
// and nothing else there; hints and warnings go to stderr.
// Exit codes: 0 done (watch: succeeded), 1 a server error or a failed experiment, 2 a usage error,
// 3 `watch` saw the experiment canceled (or deleted).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { components, paths } from '../../openapi/schema.d.ts';

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

// The API's answers, typed from the generated OpenAPI document (openapi/schema.d.ts).
type Schemas = components['schemas'];
type Experiment = Schemas['Experiment'];
type Estimate = Schemas['Estimate'] | Schemas['UploadEstimate'];
/** The JSON body of a route's answer with this status. */
type Answer<P extends keyof paths, M extends 'get' | 'post', S extends number> = paths[P][M] extends {
  responses: { [K in S]: { content: { 'application/json': infer B } } };
}
  ? B
  : never;
type Submitted = Answer<'/v1/experiments', 'post', 202>;
type DryRun = Answer<'/v1/experiments', 'post', 200>;
type PresetList = Answer<'/v1/presets', 'get', 200>;
type ExperimentPage = Answer<'/v1/experiments', 'get', 200>;
type CreatedShare = Answer<'/v1/experiments/{id}/shares', 'post', 201>;
type SharePage = Answer<'/v1/experiments/{id}/shares', 'get', 200>;

function endpoint(): { base: string; key: string } {
  const base = (process.env['REPDYN_URL'] ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const key = process.env['REPDYN_API_KEY'];
  if (!key)
    throw new CliError('set REPDYN_API_KEY (create one with `repdyn admin create-team --name NAME`)', 2);
  return { base, key };
}

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const { base, key } = endpoint();
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${key}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    });
  } catch (err) {
    throw new CliError(
      `cannot reach ${base} (${(err as Error).cause ?? err}); is the API running (npm start)?`,
    );
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
    throw new CliError(`${res.status} ${body.code ?? 'ERROR'}: ${body.message ?? res.statusText}`);
  }
  return res;
}

/** The JSON answer of a route, as the OpenAPI document types it. */
const json = async <T>(path: string, init?: RequestInit): Promise<T> =>
  (await call(path, init)).json() as Promise<T>;

const TERMINAL: readonly Experiment['status'][] = ['succeeded', 'failed', 'canceled'];

function bar(e: Experiment): string {
  const f = e.progress.fraction;
  const width = 30;
  const eta =
    e.progress.etaSeconds != null && !TERMINAL.includes(e.status)
      ? ` ETA ${Math.round(e.progress.etaSeconds)}s`
      : '';
  return `${'█'.repeat(Math.round(f * width)).padEnd(width, '░')} ${(f * 100).toFixed(0).padStart(3)}% ${String(e.status).padEnd(9)} ${String(e.progress.message).slice(0, 50)}${eta}`;
}

/** The experiment, or null once it is gone (deleted while watched). */
async function getOrGone(id: string): Promise<Experiment | null> {
  try {
    return await json<Experiment>(`/v1/experiments/${id}`);
  } catch (err) {
    if (err instanceof CliError && /^404 EXPERIMENT_NOT_FOUND/.test(err.message)) return null;
    throw err;
  }
}

/**
 * Follows an experiment until a terminal status and ends there: succeeded exits 0, failed 1,
 * canceled (or deleted while watched) 3. With `asJson`, one JSON line per change, nothing else.
 */
async function watch(id: string, asJson = false): Promise<number> {
  const tty = process.stdout.isTTY && !asJson;
  let last = '';
  let seen = false;
  for (;;) {
    const e = await (seen ? getOrGone(id) : json<Experiment>(`/v1/experiments/${id}`));
    if (e === null) {
      if (tty) process.stdout.write('\n');
      if (asJson) console.log(JSON.stringify({ id, status: 'deleted' }));
      else console.error(`repdyn watch: experiment ${id} was deleted`);
      return 3;
    }
    seen = true;
    const terminal = TERMINAL.includes(e.status);
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

function readSpec(file: string): string {
  try {
    return JSON.stringify(JSON.parse(readFileSync(file, 'utf8')));
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
  const need = (what: string) => {
    if (!arg) throw new CliError(`${command}: missing ${what}`, 2);
    return arg;
  };
  try {
    switch (command) {
      case 'submit': {
        const body = readSpec(need('SPEC.json'));
        const sub = await json<Submitted>('/v1/experiments', { method: 'POST', body });
        if (asJson) print(sub);
        else console.log(sub.id);
        printWarnings(sub.warnings);
        return values.wait ? watch(sub.id, asJson) : 0;
      }
      case 'presets': {
        const { presets } = await json<PresetList>('/v1/presets');
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
        const res = await call('/v1/experiments?dryRun=true', { method: 'POST', body });
        const dry = (await res.json()) as DryRun | Submitted;
        if (res.status !== 200 || !('dryRun' in dry) || dry.dryRun !== true) {
          // a server from before dry runs queued it: take it back
          if ('id' in dry && dry.id)
            await call(`/v1/experiments/${dry.id}`, { method: 'DELETE' }).catch(() => undefined);
          throw new CliError(
            `the API at ${endpoint().base} does not support dry runs (POST /v1/experiments?dryRun=true answered ${res.status}); update it`,
          );
        }
        if (asJson) print(dry);
        else for (const line of describeEstimate(dry.estimate)) console.log(line);
        printWarnings(dry.warnings);
        return 0;
      }
      case 'status': {
        const e = await json<Experiment>(`/v1/experiments/${need('ID')}`);
        print(e);
        if (!asJson) printWarnings(e.warnings);
        return 0;
      }
      case 'watch':
        return watch(need('ID'), asJson);
      case 'list': {
        const limit = positiveInt(values.limit, '--limit');
        if (values.all && values.cursor) throw new CliError('--all starts at the newest; drop --cursor', 2);
        const items: Experiment[] = [];
        let cursor = values.cursor;
        let next: string | null = null;
        for (;;) {
          const q = new URLSearchParams();
          if (values.status) q.set('status', values.status);
          q.set('limit', String(limit ?? (values.all ? 200 : 50)));
          if (cursor) q.set('cursor', cursor);
          const page = await json<ExperimentPage>(`/v1/experiments?${q}`);
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
        const e = await json<Experiment>(`/v1/experiments/${need('ID')}/cancel`, { method: 'POST' });
        if (asJson) print(e);
        else console.log(e.status);
        return 0;
      }
      case 'delete': {
        const id = need('ID');
        await call(`/v1/experiments/${id}`, { method: 'DELETE' });
        if (asJson) print({ id, deleted: true });
        else console.log('deleted');
        return 0;
      }
      case 'slice': {
        const id = need('ID');
        const format = values.format ?? 'json';
        if (!['npy', 'csv', 'json'].includes(format))
          throw new CliError('--format must be npy, csv or json', 2);
        if (!values.output) throw new CliError('slice: -o FILE is required', 2);
        const q = new URLSearchParams({ format, measure: values.measure ?? 'rho' });
        if (values.ref) q.set('refLayer', values.ref);
        if (values.spec) q.set('specLayer', values.spec);
        if (values.checkpoint) q.set('checkpoint', values.checkpoint);
        const res = await call(`/v1/experiments/${id}/tensor?${q}`);
        writeFileSync(values.output, Buffer.from(await res.arrayBuffer()));
        if (asJson) print({ files: [values.output] });
        else console.log(`wrote ${values.output}`);
        return 0;
      }
      case 'figures': {
        const id = need('ID');
        if (!values.output) throw new CliError('figures: -o DIR is required', 2);
        mkdirSync(values.output, { recursive: true });
        const files: string[] = [];
        for (const [path, file] of [
          ['heatmaps.svg?fractions=0,0.03,0.5,0.99', 'figure1-heatmaps.svg'],
          ['convergence.svg', 'figure2-convergence.svg'],
          ['crawl.svg', 'figure3-crawl.svg'],
        ]) {
          const res = await call(`/v1/experiments/${id}/figures/${path}`);
          writeFileSync(join(values.output, file), Buffer.from(await res.arrayBuffer()));
          files.push(join(values.output, file));
          if (!asJson) console.log(`wrote ${join(values.output, file)}`);
        }
        if (asJson) print({ files });
        return 0;
      }
      case 'share': {
        const s = await json<CreatedShare>(`/v1/experiments/${need('ID')}/shares`, { method: 'POST' });
        const { base } = endpoint();
        if (asJson) print({ ...s, url: `${base}${s.pageUrl}` });
        else console.log(`${base}${s.pageUrl}`);
        return 0;
      }
      case 'shares': {
        const page = await json<SharePage>(`/v1/experiments/${need('ID')}/shares`);
        if (asJson) print(page);
        else for (const s of page.items) console.log(`${s.id}  ${s.createdAt}  key ${s.keyId ?? '-'}`);
        return 0;
      }
      case 'unshare': {
        const shareId = positionals[1];
        if (!shareId) throw new CliError('unshare: missing SHARE_ID', 2);
        await call(`/v1/experiments/${need('ID')}/shares/${encodeURIComponent(shareId)}`, {
          method: 'DELETE',
        });
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
