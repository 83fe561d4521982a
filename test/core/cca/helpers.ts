// Shared helpers for the similarity-engine tests.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GemmEngine, getGemmEngine, type Matrix2D } from '../../../core/cca/index.ts';
import { gaussian } from '../../../core/cca/similarity.ts';
import { decodeNpy } from '../../../core/npy.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const goldenDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'cca-golden');

/** The golden case folders; fails loudly when the shared fixtures are missing. */
export function goldenCases(): string[] {
  if (!existsSync(path.join(goldenDir, 'README.md'))) {
    throw new Error(`golden fixtures not found at ${goldenDir} (expected ../shared next to the repository)`);
  }
  return [
    'independent',
    'linear-map',
    'nonlinear',
    'dead-and-duplicate',
    'few-samples',
    'input-vs-logits',
    'scaled',
  ];
}

export function loadNpy(file: string): Matrix2D {
  const { data, shape } = decodeNpy(readFileSync(file));
  return { data, rows: shape[0]!, cols: shape[1]! };
}

export function randomMatrix(rows: number, cols: number, seed: number): Matrix2D {
  return { data: gaussian(rows * cols, seed), rows, cols };
}

/** x A + b for a random (invertible with probability 1) A [cols, cols] and offset b. */
export function affine(x: Matrix2D, seed: number): Matrix2D {
  const { rows, cols } = x;
  const a = gaussian(cols * cols, seed);
  const b = gaussian(cols, seed + 1);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let s = b[j]! * 10;
      for (let k = 0; k < cols; k++) s += x.data[i * cols + k]! * a[k * cols + j]!;
      out[i * cols + j] = s;
    }
  }
  return { data: out, rows, cols };
}

/** x scaled by a constant. */
export function scaled(x: Matrix2D, factor: number): Matrix2D {
  return { data: Float64Array.from(x.data, (v) => v * factor), rows: x.rows, cols: x.cols };
}

/** y = relu(x P) + noise: a related representation of another width. */
export function related(x: Matrix2D, width: number, noise: number, seed: number): Matrix2D {
  const p = gaussian(x.cols * width, seed);
  const e = gaussian(x.rows * width, seed + 7);
  const out = new Float64Array(x.rows * width);
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < width; j++) {
      let s = 0;
      for (let k = 0; k < x.cols; k++) s += x.data[i * x.cols + k]! * p[k * width + j]!;
      out[i * width + j] = Math.max(0, s) + noise * e[i * width + j]!;
    }
  }
  return { data: out, rows: x.rows, cols: width };
}

export function assertClose(actual: number, expected: number, tol: number, what: string): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(
      `${what}: ${actual} differs from ${expected} by ${Math.abs(actual - expected)} (> ${tol})`,
    );
  }
}

/** Engines that failed to load in this process, with the reason (reported once each). */
const unavailable = new Map<string, string>();

/**
 * The GEMM engines that load here besides JS (the native OpenBLAS one, onnxruntime), each with every
 * product on the engine however small (minWork 0). Callers dispose them. An engine that does not load
 * is reported on stderr with the reason (the tests then cover fewer engines, and say so); with
 * REPDYN_REQUIRE_NATIVE=1 (CI) a native engine that does not load fails instead.
 */
export async function loadedEngines(): Promise<GemmEngine[]> {
  const engines: GemmEngine[] = [];
  for (const name of ['blas', 'onnx'] as const) {
    try {
      engines.push(await getGemmEngine(name, { minWork: 0 }));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (name === 'blas' && process.env['REPDYN_REQUIRE_NATIVE'] === '1') {
        throw new Error(`REPDYN_REQUIRE_NATIVE=1 but the native engine did not load: ${reason}`);
      }
      if (!unavailable.has(name)) {
        unavailable.set(name, reason);
        process.stderr.write(
          `# engine '${name}' not loaded, its cases run on the other engines only: ${reason}\n`,
        );
      }
    }
  }
  return engines;
}
