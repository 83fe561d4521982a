import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsRunArtifactStore } from '../../store/artifacts.ts';
import { sampleRunState } from '../helpers/run-state.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'repdyn-artifacts-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const KEY = 'ab'.repeat(32);

describe('FsRunArtifactStore', () => {
  it('round-trips weights, optimizer state, representations and state, leaving no temp files', async () => {
    const store = new FsRunArtifactStore(root, KEY);
    assert.equal(await store.loadState(), null);
    assert.equal(await store.hasCheckpoint(0), false);
    const bytes = Uint8Array.of(1, 2, 3, 250);
    await store.saveWeights(0, bytes);
    await store.saveOptimizerState(0, bytes);
    await store.saveOptimizerState(1, bytes);
    assert.deepEqual(new Uint8Array(await store.loadWeights(0)), bytes);
    const matrix = { data: Float32Array.of(1, 2, 3, 4, 5, 6), rows: 3, cols: 2 };
    await store.saveRepresentation(0, 'fc1', matrix);
    assert.deepEqual(await store.loadRepresentation(0, 'fc1'), matrix);
    // float64 stays float64 (values float32 cannot hold included)
    const wide = { data: Float64Array.of(1e-160, 1e39, 1e300, 0.1, 1 + 2 ** -50, -3), rows: 3, cols: 2 };
    await store.saveRepresentation(0, 'fc2', wide);
    assert.deepEqual(await store.loadRepresentation(0, 'fc2'), wide);
    const state = sampleRunState();
    await store.saveState(state);
    assert.deepEqual(await store.loadState(), state);
    assert.equal(await store.hasCheckpoint(0), true);
    assert.equal(await store.hasCheckpoint(1), false);
    await store.pruneOptimizerStates(1);
    await assert.rejects(store.loadOptimizerState(0), /ENOENT/);
    assert.deepEqual(new Uint8Array(await store.loadOptimizerState(1)), bytes);
    const all = [...(await readdir(store.dir, { recursive: true }))];
    assert.ok(
      all.every((f) => !f.endsWith('.tmp')),
      all.join(', '),
    );
  });

  it('loads a representation in one read, and refuses a truncated or overlong file', async () => {
    const store = new FsRunArtifactStore(root, 'cd'.repeat(32));
    // wider than one read piece of the header (512 bytes) and of the data's first page
    const matrix = { data: Float32Array.from({ length: 300 * 70 }, (_, i) => i / 7), rows: 300, cols: 70 };
    await store.saveRepresentation(2, 'wide', matrix);
    assert.deepEqual(await store.loadRepresentation(2, 'wide'), matrix);
    const file = store.layerFile(2, 'wide');
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 4));
    await assert.rejects(store.loadRepresentation(2, 'wide'), { code: 'NPY_TRUNCATED' });
    await writeFile(file, Buffer.concat([bytes, Buffer.alloc(8)]));
    await assert.rejects(store.loadRepresentation(2, 'wide'), { code: 'NPY_TRAILING_BYTES' });
    await writeFile(file, bytes.subarray(0, 40));
    await assert.rejects(store.loadRepresentation(2, 'wide'), { code: 'NPY_TRUNCATED' });
    assert.equal(await store.representationShape(3, 'wide'), null);
  });

  it('refuses keys and layer names that could escape its directory', async () => {
    assert.throws(() => new FsRunArtifactStore(root, '../etc'));
    const store = new FsRunArtifactStore(root, KEY);
    await assert.rejects(
      store.saveRepresentation(0, '../x', { data: new Float32Array(1), rows: 1, cols: 1 }),
    );
  });
});
