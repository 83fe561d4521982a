// Where the tensor builder's time goes: every engine call and every synchronous stretch of the
// algorithm on the calling thread is recorded as an interval [start, end] under one phase. Phases
// overlap (the engine runs several calls at once, next to the JS thread), so each phase has two
// numbers: its wall seconds (the union of its intervals: how long at least one of its calls ran) and
// its thread seconds (the sum of its intervals: the work, in seconds of one thread). Shares are of
// the total thread seconds (they add up to 1).

export const PHASES = [
  'loading', // the callers' loaders (reading, decoding or generating representations)
  'centring', // column statistics, validation, centring and scaling of each representation
  'gram', // the Gram product of each representation
  'decompositions', // per representation: eigendecomposition or Cholesky factor, whitening, basis
  'pair_products', // M = Qx^T Yc and B = M Wy, batched over the reference layers
  'spectra', // per pair: the spectrum of B (Gram of its smaller side, eigenvalues), CKA, SVCCA, PWCCA
  'null', // the permutation null's products
  'writing', // the consumer of the cells (measured by the caller)
] as const;
export type Phase = (typeof PHASES)[number];

export interface PhaseSummary {
  /** Intervals recorded (engine calls, loader calls and synchronous stretches). */
  calls: number;
  wall_s: number;
  thread_s: number;
  share: number;
  /** Floating-point operations counted under the phase (the tensor's products), in GFLOP. */
  gflop?: number;
}

export class PhaseProfile {
  private readonly intervals = new Map<Phase, Array<[number, number]>>();
  private readonly flops = new Map<Phase, number>();
  /** A clock in seconds (performance.now() based). */
  static now(): number {
    return performance.now() / 1000;
  }

  record(phase: Phase, start: number, end: number): void {
    let list = this.intervals.get(phase);
    if (!list) {
      list = [];
      this.intervals.set(phase, list);
    }
    list.push([start, end]);
  }

  /** Counts floating-point operations done under `phase`. */
  count(phase: Phase, flops: number): void {
    this.flops.set(phase, (this.flops.get(phase) ?? 0) + flops);
  }

  /** Times `task` (an engine call or a loader) under `phase`. */
  async time<T>(phase: Phase, task: () => Promise<T>): Promise<T> {
    const start = PhaseProfile.now();
    try {
      return await task();
    } finally {
      this.record(phase, start, PhaseProfile.now());
    }
  }

  /**
   * Seconds during which exactly k of the given phases' intervals ran at once, for k = 0..max (from
   * the first interval's start to the last one's end): how busy the engine's threads were kept.
   */
  concurrency(phases: readonly Phase[]): number[] {
    const events: Array<[number, number]> = [];
    for (const phase of phases) {
      for (const [s, e] of this.intervals.get(phase) ?? []) events.push([s, 1], [e, -1]);
    }
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const seconds: number[] = [];
    let level = 0;
    for (let i = 0; i < events.length; i++) {
      level += events[i]![1];
      const next = events[i + 1];
      if (next) seconds[level] = (seconds[level] ?? 0) + (next[0] - events[i]![0]);
    }
    return Array.from(seconds, (v) => round(v ?? 0));
  }

  /** Wall and thread seconds per phase (phases without intervals are 0). */
  summary(): Record<Phase, PhaseSummary> {
    const raw = PHASES.map((phase) => {
      const list = [...(this.intervals.get(phase) ?? [])].sort((a, b) => a[0] - b[0]);
      let wall = 0;
      let thread = 0;
      let end = Number.NEGATIVE_INFINITY;
      for (const [s, e] of list) {
        thread += e - s;
        if (e <= end) continue;
        wall += e - Math.max(s, end);
        end = e;
      }
      return { phase, calls: list.length, wall, thread };
    });
    const total = raw.reduce((sum, r) => sum + r.thread, 0);
    const out = {} as Record<Phase, PhaseSummary>;
    for (const { phase, calls, wall, thread } of raw) {
      out[phase] = {
        calls,
        wall_s: round(wall),
        thread_s: round(thread),
        share: total > 0 ? Number((thread / total).toFixed(4)) : 0,
      };
      const flops = this.flops.get(phase);
      if (flops !== undefined) out[phase].gflop = round(flops / 1e9);
    }
    return out;
  }
}

const round = (v: number) => Number(v.toFixed(3));
