// Deterministic pseudo-randomness shared by data subsets, batch shuffles, weight initialisation and
// conv-position subsampling. Everything derives from integer seeds through pure functions, so the
// same seed gives the same numbers on every platform and backend (no Math.random, no tf RNG).

/** Mixes a 32-bit integer (the murmur3 finaliser): a good avalanche for seed derivation. */
function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * A 32-bit seed derived from `seed` and a path of labels, e.g. deriveSeed(seed, 'shuffle', epoch).
 * Different label paths give independent streams from one user-visible seed.
 */
export function deriveSeed(seed: number, ...parts: Array<number | string>): number {
  let h = fmix32(seed ^ 0x9e3779b9);
  for (const part of parts) {
    const text = typeof part === 'number' ? `#${part}` : part;
    for (let i = 0; i < text.length; i++) h = fmix32(h ^ Math.imul(text.charCodeAt(i) + 1, 0x01000193));
    h = fmix32(h ^ 0x7f4a7c15);
  }
  return h;
}

/** sfc32 generator (small fast counter, passes PractRand to 2^40+), seeded through splitmix-like mixing. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = fmix32(seed ^ 0x243f6a88);
    this.b = fmix32(seed ^ 0x85a308d3);
    this.c = fmix32(seed ^ 0x13198a2e);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), n ≤ 2^32. */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }
}

/** A permutation of 0..n-1 (Fisher–Yates driven by `seed`). */
export function permutation(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/**
 * `k` distinct indices from 0..n-1, sorted ascending (Floyd's sampling: O(k) memory even for huge n).
 * k ≥ n returns every index.
 */
export function sampleIndices(n: number, k: number, seed: number): Uint32Array {
  if (k >= n) {
    const all = new Uint32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    return all;
  }
  const rng = new Rng(seed);
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = rng.nextInt(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Uint32Array.from(chosen).sort();
}

/**
 * The one seeded Gaussian source: `count` standard-normal values (mulberry32 + Box-Muller); the same
 * seed gives the same values. The random baseline (core/analysis/baseline.ts, the service's
 * summary.baseline) and core/cca's randomBaseline both draw from it.
 */
export function gaussian(count: number, seed: number): Float64Array {
  let a = (seed ^ 0x9e3779b9) >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297; // (0, 1)
  };
  const data = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    data[i] = r * Math.cos(theta);
    if (i + 1 < count) data[i + 1] = r * Math.sin(theta);
  }
  return data;
}

/**
 * The seed of the baseline's Gaussian matrix for a layer width on one side of the tensor (1:
 * reference, 2: specimen): independent seeds per side, one matrix per distinct width.
 */
export function baselineSeed(seed: number, side: 1 | 2, width: number): number {
  return seed * 7919 + side * 104729 + width;
}
