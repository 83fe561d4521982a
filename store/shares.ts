// Read-only share links of an experiment: minted under the experiment's row lock (so concurrent
// requests cannot overshoot the cap of live links), listed and revoked. Only token hashes are stored.
import { randomBytes } from 'node:crypto';
import { hashSecret } from './auth.ts';
import type { Db, Share } from './db.ts';
import { DomainError, ExperimentNotFound } from './errors.ts';

export class TooManyShares extends DomainError {
  constructor(live: number, cap: number) {
    super(
      'limit',
      'LIMIT_SHARE_TOKENS',
      `the experiment has ${live} live share links (limit ${cap}, MAX_SHARE_TOKENS); revoke one first`,
      { field: 'shares', limit: cap, live },
    );
  }
}

export class ShareNotFound extends DomainError {
  constructor() {
    super('not-found', 'SHARE_NOT_FOUND', 'no active share with this id');
  }
}

/** The experiment's id if it belongs to the team (ExperimentNotFound otherwise). */
async function ownedId(db: Db, teamId: string, id: string): Promise<string> {
  const row = await db.experiment.findFirst({ where: { id, teamId }, select: { id: true } });
  if (!row) throw new ExperimentNotFound(id);
  return row.id;
}

/** A new share link of the team's experiment: its row and its token (192 random bits, shown once). */
export async function mintShare(
  db: Db,
  teamId: string,
  experimentId: string,
  keyId: string,
  cap: number,
): Promise<{ share: Share; token: string }> {
  const id = await ownedId(db, teamId, experimentId);
  const token = randomBytes(24).toString('base64url');
  const share = await db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT id FROM "Experiment" WHERE id = ${id}::uuid FOR UPDATE`;
    const live = await tx.share.count({ where: { experimentId: id, revokedAt: null } });
    if (live >= cap) throw new TooManyShares(live, cap);
    return tx.share.create({ data: { experimentId: id, tokenHash: hashSecret(token), keyId } });
  });
  return { share, token };
}

/** The live share links of the team's experiment, newest first (at most `cap`). */
export async function liveShares(
  db: Db,
  teamId: string,
  experimentId: string,
  cap: number,
): Promise<Share[]> {
  const id = await ownedId(db, teamId, experimentId);
  return db.share.findMany({
    where: { experimentId: id, revokedAt: null },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: cap,
  });
}

/** Revokes a live share link of the team's experiment (ShareNotFound when there is none). */
export async function revokeShare(
  db: Db,
  teamId: string,
  experimentId: string,
  shareId: string,
): Promise<void> {
  const id = await ownedId(db, teamId, experimentId);
  const res = await db.share.updateMany({
    where: { id: shareId, experimentId: id, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  if (res.count === 0) throw new ShareNotFound();
}
