// API commands of `repdyn` (REPDYN_URL, default http://127.0.0.1:8080; REPDYN_API_KEY):
//   submit SPEC.json [--wait] · status ID · watch ID · list [--status S] · cancel ID
//   slice ID [--ref …] [--spec …] [--checkpoint …] [--measure …] --format npy|csv|json -o FILE
//   figures ID -o DIR · share ID · shares ID · unshare ID SHARE_ID
// Failures exit non-zero with the server's error code and message.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the CLI prints the API's JSON
type Json = any;

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

const json = async (path: string, init?: RequestInit): Promise<Json> => (await call(path, init)).json();

function bar(e: Json): string {
  const f = e.progress.fraction as number;
  const width = 30;
  const eta = e.progress.etaSeconds != null ? ` ETA ${Math.round(e.progress.etaSeconds)}s` : '';
  return `${'█'.repeat(Math.round(f * width)).padEnd(width, '░')} ${(f * 100).toFixed(0).padStart(3)}% ${String(e.status).padEnd(9)} ${String(e.progress.message).slice(0, 50)}${eta}`;
}

async function watch(id: string): Promise<number> {
  const tty = process.stdout.isTTY;
  let last = '';
  for (;;) {
    const e = await json(`/v1/experiments/${id}`);
    const line = bar(e);
    if (tty) process.stdout.write(`\r${line.padEnd(110)}`);
    else if (line !== last) console.log(line);
    last = line;
    if (['succeeded', 'failed', 'canceled'].includes(e.status)) {
      if (tty) process.stdout.write('\n');
      if (e.status === 'failed') throw new CliError(`failed ${e.error?.code}: ${e.error?.message}`);
      if (e.status === 'canceled') throw new CliError('canceled');
      return 0;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The experiment's warnings, one line each on stderr (stdout stays the JSON or the id). */
function printWarnings(warnings: unknown): void {
  if (!Array.isArray(warnings)) return;
  for (const w of warnings as Array<{ code?: string; message?: string }>)
    console.error(`warning: ${w.code}: ${w.message}`);
}

export async function run(argv: string[], command?: string): Promise<number> {
  const { values, positionals } = parseArgs({
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
    },
  });
  const [arg] = positionals;
  const need = (what: string) => {
    if (!arg) throw new CliError(`${command}: missing ${what}`, 2);
    return arg;
  };
  try {
    switch (command) {
      case 'submit': {
        const file = need('SPEC.json');
        let body: string;
        try {
          body = JSON.stringify(JSON.parse(readFileSync(file, 'utf8')));
        } catch (err) {
          throw new CliError(`${file}: ${(err as Error).message}`, 2);
        }
        const sub = await json('/v1/experiments', { method: 'POST', body });
        console.log(sub.id);
        printWarnings(sub.warnings);
        return values.wait ? watch(sub.id) : 0;
      }
      case 'status': {
        const e = await json(`/v1/experiments/${need('ID')}`);
        console.log(JSON.stringify(e, null, 2));
        printWarnings(e.warnings);
        return 0;
      }
      case 'watch':
        return watch(need('ID'));
      case 'list': {
        const q = values.status ? `?status=${encodeURIComponent(values.status)}` : '';
        const page = await json(`/v1/experiments${q}`);
        for (const e of page.items)
          console.log(
            `${e.id}  ${String(e.status).padEnd(9)} ${(e.progress.fraction * 100).toFixed(0).padStart(3)}%  ${e.name}`,
          );
        return 0;
      }
      case 'cancel': {
        const e = await json(`/v1/experiments/${need('ID')}/cancel`, { method: 'POST' });
        console.log(e.status);
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
        console.log(`wrote ${values.output}`);
        return 0;
      }
      case 'figures': {
        const id = need('ID');
        if (!values.output) throw new CliError('figures: -o DIR is required', 2);
        mkdirSync(values.output, { recursive: true });
        for (const [path, file] of [
          ['heatmaps.svg?fractions=0,0.03,0.5,0.99', 'figure1-heatmaps.svg'],
          ['convergence.svg', 'figure2-convergence.svg'],
          ['crawl.svg', 'figure3-crawl.svg'],
        ]) {
          const res = await call(`/v1/experiments/${id}/figures/${path}`);
          writeFileSync(join(values.output, file), Buffer.from(await res.arrayBuffer()));
          console.log(`wrote ${join(values.output, file)}`);
        }
        return 0;
      }
      case 'share': {
        const s = await json(`/v1/experiments/${need('ID')}/shares`, { method: 'POST' });
        const { base } = endpoint();
        console.log(`${base}${s.pageUrl}`);
        return 0;
      }
      case 'shares': {
        const page = await json(`/v1/experiments/${need('ID')}/shares`);
        for (const s of page.items) console.log(`${s.id}  ${s.createdAt}  key ${s.keyId ?? '-'}`);
        return 0;
      }
      case 'unshare': {
        const shareId = positionals[1];
        if (!shareId) throw new CliError('unshare: missing SHARE_ID', 2);
        await call(`/v1/experiments/${need('ID')}/shares/${encodeURIComponent(shareId)}`, {
          method: 'DELETE',
        });
        console.log('revoked');
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
