// Acceptance (issue 15): a float64 upload keeps its dtype end to end, so the API and
// `repdyn similarity` give the same numbers on the same file: every golden case uploaded as float64,
// and the same data in units of 1e200 (x) and 1e-200 (y), through the real API and worker processes,
// matches the CLI's --json output to 1e-12 (coefficients, rho, mean, SVCCA, PWCCA, CKA). Before,
// float64 uploads were stored as float32 (1e±200 became Infinity / 0: SIMILARITY_NON_FINITE after
// `complete`) and the CLI used another engine than the worker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeNpy, encodeNpy } from '../../core/npy.ts';
import { goldenCases, goldenDir, randomMatrix, related, repoRoot } from '../core/cca/helpers.ts';
import { waitFor } from '../helpers/env.ts';
import {
  type Experiment,
  readJson,
  type SliceOf,
  type UploadCreated,
  type Uploaded,
} from '../helpers/json.ts';
import { type Service, startService } from '../helpers/service.ts';

const TOL = 1e-12;

interface CliOut {
  cca: number[];
  rho: number;
  mean: number;
  svcca99_rho: number;
  pwcca: number;
  linear_cka: number;
  ranks: [number, number];
}

/** `repdyn similarity X Y --json` as a child process (the environment's GEMM_ENGINE, like the worker). */
function cli(x: string, y: string): Promise<CliOut> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'repdyn.js'), 'similarity', x, y, '--json'],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`repdyn similarity exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as CliOut);
    });
  });
}

/** The golden float32 file as float64, every value times factor. */
function float64Npy(file: string, factor: number): Uint8Array {
  const { data, shape } = decodeNpy(readFileSync(file));
  return encodeNpy(
    Float64Array.from(data, (v) => v * factor),
    shape,
  );
}

describe('float64 uploads give the CLI numbers', () => {
  let svc: Service;
  let dir: string;

  before(async () => {
    svc = await startService({ env: { MAX_UPLOAD_BYTES: String(12_000_000) } });
    dir = mkdtempSync(join(tmpdir(), 'repdyn-f64-'));
  });

  after(async () => {
    await svc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function json<T>(path: string, init?: RequestInit) {
    const res = await svc.request(path, init);
    const body = await readJson<T>(res);
    return { status: res.status, body };
  }

  it('golden cases and 1e±200 data, uploaded as float64, match `repdyn similarity` to 1e-12', async () => {
    const cases = goldenCases();
    // layer name -> [file factor]: x and y as they are, xs = x * 1e200, ys = y * 1e-200
    const variants = { x: ['x', 1], xs: ['x', 1e200], y: ['y', 1], ys: ['y', 1e-200] } as const;
    const ids = new Map<string, string>();
    for (const name of cases) {
      const samples = decodeNpy(readFileSync(join(goldenDir, name, 'x.npy'))).shape[0]!;
      const created = await json<UploadCreated>('/v1/experiments', {
        method: 'POST',
        body: JSON.stringify({
          name: `float64 ${name}`,
          source: 'upload',
          samples,
          reference: { layers: ['x', 'xs'] },
          specimen: { layers: ['y', 'ys'] },
          checkpoints: [{ step: 0 }],
          similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
        }),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      for (const [layer, [file, factor]] of Object.entries(variants)) {
        const bytes = float64Npy(join(goldenDir, name, `${file}.npy`), factor);
        writeFileSync(join(dir, `${name}-${layer}.npy`), bytes);
        const path = layer.startsWith('x') ? `reference/final/${layer}` : `specimen/0/${layer}`;
        const put = await json<Uploaded>(`/v1/experiments/${id}/activations/${path}`, {
          method: 'PUT',
          body: bytes,
          headers: { 'content-type': 'application/octet-stream' },
        });
        assert.equal(put.status, 201, JSON.stringify(put.body));
        assert.equal(put.body.input.dtype, 'float64');
        // stored as uploaded, bit for bit
        const stored = await svc.request(
          `/v1/experiments/${id}/activations?network=${layer.startsWith('x') ? 'reference' : 'specimen'}&checkpoint=0&layer=${layer}`,
        );
        assert.equal(stored.status, 200, `${name} ${layer}: GET activations`);
        assert.deepEqual(new Uint8Array(await stored.arrayBuffer()), bytes, `${name} ${layer} stored`);
      }
      const done = await json<Experiment>(`/v1/experiments/${id}/complete`, { method: 'POST' });
      assert.equal(done.status, 202, JSON.stringify(done.body));
      ids.set(name, id);
    }

    for (const name of cases) {
      const id = ids.get(name)!;
      const final = await waitFor(
        async () => {
          const b = (await json<Experiment>(`/v1/experiments/${id}`)).body;
          return ['succeeded', 'failed', 'canceled'].includes(b.status) ? b : undefined;
        },
        { timeoutMs: 300_000, intervalMs: 200, what: `experiment ${name} to finish` },
      );
      assert.equal(final.status, 'succeeded', `${name}: ${JSON.stringify(final.error)}\n${svc.output()}`);
      const measure = async (m: string) =>
        (await json<SliceOf<2>>(`/v1/experiments/${id}/tensor?measure=${m}&checkpoint=0`)).body
          .values as unknown[][];
      const api = {
        rho: await measure('rho'),
        mean: await measure('mean'),
        svcca: await measure('svcca'),
        pwcca: await measure('pwcca'),
        cka: await measure('cka'),
        coefficients: await measure('coefficients'),
      };
      for (const [i, j, xl, yl] of [
        [0, 0, 'x', 'y'],
        [1, 1, 'xs', 'ys'],
        [1, 0, 'xs', 'y'],
      ] as const) {
        const at = `${name} ${xl} vs ${yl}`;
        const want = await cli(join(dir, `${name}-${xl}.npy`), join(dir, `${name}-${yl}.npy`));
        const close = (got: unknown, expected: number, what: string) =>
          assert.ok(
            typeof got === 'number' && Math.abs(got - expected) <= TOL,
            `${at} ${what}: API ${got}, CLI ${expected}`,
          );
        close(api.rho[i]![j], want.rho, 'rho');
        close(api.mean[i]![j], want.mean, 'mean');
        close(api.svcca[i]![j], want.svcca99_rho, 'svcca');
        close(api.pwcca[i]![j], want.pwcca, 'pwcca');
        close(api.cka[i]![j], want.linear_cka, 'cka');
        const coefs = (api.coefficients[i]![j] as Array<number | null>).filter((v) => v !== null);
        assert.equal(coefs.length, want.cca.length, `${at}: number of coefficients`);
        for (const [k, c] of want.cca.entries()) close(coefs[k], c, `cca[${k}]`);
      }
    }
  });

  it('collinear float64 neurons, a 1e6 offset, values near 1e-160 and 1e160: the CLI numbers to 1e-12', async () => {
    const n = 300;
    const x = randomMatrix(n, 12, 51);
    const y = related(x, 9, 0.4, 52);
    const map = (m: typeof x, f: (v: number, i: number, j: number) => number) =>
      Float64Array.from(m.data, (v, k) => f(v, Math.floor(k / m.cols), k % m.cols));
    // x's neuron 5 is exactly 3 x neuron 2 plus neuron 7 / 7 (collinear, rank 11): float32 rounding
    // breaks the collinearity and adds a direction
    const collinear = (m: typeof x) =>
      map(m, (v, i, j) => (j === 5 ? 3 * m.data[i * m.cols + 2]! + m.data[i * m.cols + 7]! / 7 : v));
    const layers: Record<string, [Float64Array, Float64Array]> = {
      collinear: [collinear(x), map(y, (v) => v)],
      offset: [map(x, (v) => v + 1e6), map(y, (v) => v + 1e6)],
      tiny: [map(x, (v) => v * 1e-160), map(y, (v) => v * 1e-160)],
      huge: [map(x, (v) => v * 1e160), map(y, (v) => v * 1e39)],
    };
    const names = Object.keys(layers);
    const created = await json<UploadCreated>('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify({
        name: 'float64 extremes',
        source: 'upload',
        samples: n,
        reference: { layers: names },
        specimen: { layers: names },
        checkpoints: [{ step: 0 }],
        similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
      }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    for (const name of names) {
      const [a, b] = layers[name]!;
      for (const [side, data, width, path] of [
        ['x', a, x.cols, `reference/final/${name}`],
        ['y', b, y.cols, `specimen/0/${name}`],
      ] as const) {
        const bytes = encodeNpy(data, [n, width]);
        writeFileSync(join(dir, `extreme-${name}-${side}.npy`), bytes);
        const put = await json<Uploaded>(`/v1/experiments/${id}/activations/${path}`, {
          method: 'PUT',
          body: bytes,
          headers: { 'content-type': 'application/octet-stream' },
        });
        assert.equal(put.status, 201, JSON.stringify(put.body));
      }
    }
    const done = await json<Experiment>(`/v1/experiments/${id}/complete`, { method: 'POST' });
    assert.equal(done.status, 202, JSON.stringify(done.body));
    const final = await waitFor(
      async () => {
        const b = (await json<Experiment>(`/v1/experiments/${id}`)).body;
        return ['succeeded', 'failed', 'canceled'].includes(b.status) ? b : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 200, what: 'the extremes experiment to finish' },
    );
    assert.equal(final.status, 'succeeded', `${JSON.stringify(final.error)}\n${svc.output()}`);
    const measure = async (m: string) =>
      (await json<SliceOf<2>>(`/v1/experiments/${id}/tensor?measure=${m}&checkpoint=0`)).body
        .values as unknown[][];
    const [rho, pwcca, cka, coefficients] = [
      await measure('rho'),
      await measure('pwcca'),
      await measure('cka'),
      await measure('coefficients'),
    ];
    for (const [i, name] of names.entries()) {
      const want = await cli(join(dir, `extreme-${name}-x.npy`), join(dir, `extreme-${name}-y.npy`));
      if (name === 'collinear') assert.equal(want.ranks[0], 11, 'the collinear neuron adds no direction');
      const close = (got: unknown, expected: number, what: string) =>
        assert.ok(
          typeof got === 'number' && Math.abs(got - expected) <= TOL,
          `${name} ${what}: API ${got}, CLI ${expected}`,
        );
      assert.ok(want.rho > 0.5, `${name}: related layers (rho ${want.rho})`);
      close(rho[i]![i], want.rho, 'rho');
      close(pwcca[i]![i], want.pwcca, 'pwcca');
      close(cka[i]![i], want.linear_cka, 'cka');
      const coefs = (coefficients[i]![i] as Array<number | null>).filter((v) => v !== null);
      assert.equal(coefs.length, want.cca.length, `${name}: number of coefficients`);
      for (const [k, c] of want.cca.entries()) close(coefs[k], c, `cca[${k}]`);
    }
  });
});
