// `repdyn similarity X.npy Y.npy [--method cca|svcca|pwcca|cka|all] [--json]`: all similarity measures
// between two activation files acts [samples, neurons] (same samples, same order).
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, gemmEngineSetting } from '../../config/index.ts';
import {
  ALL_METHODS,
  type GemmEngine,
  getGemmEngine,
  type Matrix2D,
  SimilarityError,
  type SimilarityMethod,
  type SimilarityResult,
  similarityAsync,
} from '../../core/cca/index.ts';
import { decodeNpy } from '../../core/npy.ts';

const USAGE = `usage: repdyn similarity X.npy Y.npy [--method cca|svcca|pwcca|cka|all] [--json]

Compares two layer representations stored as 2-D float32/float64 .npy arrays [samples, neurons].
  --method  which measures to report (default all; CCA coefficients and rho are always computed)
  --json    print one JSON object: cca, rho, mean, svcca99_rho, pwcca, linear_cka, ranks, warnings
The products run on the worker's engine: GEMM_ENGINE (default auto: the native OpenBLAS addon when it
is built, else onnxruntime, else JS).
`;

class UsageError extends Error {}

async function loadMatrix(file: string): Promise<Matrix2D> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const { data, shape } = decodeNpy(bytes);
    if (shape.length !== 2)
      throw new Error(`expected a 2-D array [samples, neurons], got shape (${shape.join(', ')})`);
    return { data, rows: shape[0]!, cols: shape[1]! };
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
}

function format(v: number | null): string {
  return v === null ? '-' : v.toFixed(6);
}

function readable(r: SimilarityResult, methods: ReadonlySet<SimilarityMethod>, engine: GemmEngine): string {
  const lines: string[] = [];
  lines.push(`engine         ${engine.name} (decompositions ${engine.linalg})`);
  const coefficients = Array.from(r.cca, (c) => c.toFixed(4));
  lines.push(`ranks          ${r.ranks[0]} x ${r.ranks[1]}`);
  lines.push(`cca rho        ${format(r.rho)}   (mean ${format(r.mean)}, ${r.cca.length} coefficients)`);
  lines.push(`coefficients   ${coefficients.join(' ') || '(none)'}`);
  if (methods.has('svcca') && r.svcca) {
    lines.push(
      `svcca99 rho    ${format(r.svcca.rho)}   (mean ${format(r.svcca.mean)}, dims ${r.svcca.dims.join(' x ')})`,
    );
  }
  if (methods.has('pwcca')) lines.push(`pwcca          ${format(r.pwcca)}`);
  if (methods.has('cka')) lines.push(`linear cka     ${format(r.cka)}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        method: { type: 'string', default: 'all' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  try {
    parsed = parse();
  } catch (err) {
    process.stderr.write(`repdyn similarity: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const method = values.method;
  if (positionals.length !== 2 || !(method === 'all' || ALL_METHODS.includes(method as SimilarityMethod))) {
    const why = positionals.length !== 2 ? 'expected two .npy files' : `unknown method '${method}'`;
    process.stderr.write(`repdyn similarity: ${why}\n\n${USAGE}`);
    return 2;
  }
  const methods: SimilarityMethod[] = method === 'all' ? [...ALL_METHODS] : [method as SimilarityMethod];

  let result: SimilarityResult;
  let engine: GemmEngine | undefined;
  try {
    const [x, y] = await Promise.all([loadMatrix(positionals[0]!), loadMatrix(positionals[1]!)]);
    // the worker's engine selection (worker/service.ts): same engine, same numbers as the API
    const preference = gemmEngineSetting();
    engine = await getGemmEngine(preference).catch((err: Error) => {
      throw new UsageError(`GEMM_ENGINE=${preference}: ${err.message}`);
    });
    result = await similarityAsync(x, y, engine, { methods });
  } catch (err) {
    if (err instanceof UsageError || err instanceof SimilarityError || err instanceof ConfigError) {
      process.stderr.write(`repdyn similarity: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    await engine?.dispose();
  }

  if (values.json) {
    const out = {
      cca: Array.from(result.cca),
      rho: result.rho,
      mean: result.mean,
      svcca99_rho: result.svcca?.rho ?? null,
      pwcca: result.pwcca,
      linear_cka: result.cka,
      ranks: result.ranks,
      warnings: result.warnings,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    process.stdout.write(readable(result, new Set(methods), engine!));
  }
  return 0;
}
