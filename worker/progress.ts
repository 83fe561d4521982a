// Throttled progress writes to Postgres: at most one write per interval, plus every forced write
// (phase changes). Fractions are monotone (store/experiments.ts refuses to go backwards).
import type { Db } from '../store/db.ts';
import { reportProgress } from '../store/experiments.ts';

export class ProgressReporter {
  private lastWrite = 0;
  private lastFraction = 0;
  private readonly startedAt = Date.now();
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly experimentId: string,
    private readonly intervalMs = 500,
  ) {}

  /** fraction 0..1 of the whole experiment. */
  report(fraction: number, message: string, force = false): void {
    const f = Math.min(1, Math.max(this.lastFraction, fraction));
    const now = Date.now();
    if (!force && now - this.lastWrite < this.intervalMs) return;
    this.lastWrite = now;
    this.lastFraction = f;
    const elapsed = (now - this.startedAt) / 1000;
    const etaSeconds = f > 0.02 && f < 1 ? Math.round((elapsed * (1 - f)) / f) : null;
    this.pending = this.pending
      .then(() => reportProgress(this.db, this.experimentId, { fraction: f, message, etaSeconds }))
      .catch(() => undefined); // a lost progress write is harmless; the next one carries the state
  }

  async flush(): Promise<void> {
    await this.pending;
  }
}
