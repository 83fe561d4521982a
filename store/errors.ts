// Domain errors: what went wrong in the store's terms. The API's error plugin maps each kind to its
// HTTP status once (server/plugins/errors.ts); the worker and the CLI read the same classes.

/** not-found → 404, conflict → 409, limit → 429, unprocessable → 422. */
export type DomainErrorKind = 'not-found' | 'conflict' | 'limit' | 'unprocessable';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    /** stable UPPER_SNAKE code, the API's `code` */
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The experiment does not exist or belongs to another team (never told apart). */
export class ExperimentNotFound extends DomainError {
  constructor(id: string) {
    super('not-found', 'EXPERIMENT_NOT_FOUND', `no experiment ${id}`);
  }
}

export class IdempotencyKeyReused extends DomainError {
  constructor() {
    super('conflict', 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different body');
  }
}

export class ExperimentFinished extends DomainError {
  constructor(status: string) {
    super('conflict', 'EXPERIMENT_FINISHED', `experiment is already ${status}`, { status });
  }
}

export class TooManyActiveExperiments extends DomainError {
  constructor(
    readonly active: number,
    readonly limit: number,
  ) {
    super(
      'limit',
      'LIMIT_ACTIVE_EXPERIMENTS',
      `the team has ${active} unfinished experiments (limit ${limit}); wait for one to finish, or cancel or delete one`,
      { field: 'team', limit, active },
    );
  }
}

/** A Postgres unique violation (Prisma P2002), however the client wrapped it. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'P2002';
}
