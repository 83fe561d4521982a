// Teams and API keys. A key is `rdk_<prefix>_<secret>`; only SHA-256(key) is stored, the prefix
// finds the row, and the hash is compared in constant time.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Db, poolOf } from './db.ts';
import { DomainError } from './errors.ts';

export interface Principal {
  teamId: string;
  teamName: string;
  keyId: string;
  role: 'admin' | 'member';
}

export function hashSecret(secret: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(secret).digest());
}

function newKey(): { key: string; prefix: string } {
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url'); // 192 bits
  return { key: `rdk_${prefix}_${secret}`, prefix };
}

export async function createTeam(db: Db, name: string): Promise<{ teamId: string; key: string }> {
  const { key, prefix } = newKey();
  const team = await db.team.create({
    data: { name, apiKeys: { create: { name: 'admin', prefix, hash: hashSecret(key), role: 'admin' } } },
  });
  return { teamId: team.id, key };
}

export async function createKey(
  db: Db,
  teamName: string,
  options: { name?: string; role?: 'admin' | 'member' } = {},
): Promise<{ keyId: string; key: string }> {
  const team = await db.team.findUnique({ where: { name: teamName } });
  if (!team) throw new Error(`no team named ${JSON.stringify(teamName)}`);
  const { key, prefix } = newKey();
  const row = await db.apiKey.create({
    data: {
      teamId: team.id,
      name: options.name ?? 'key',
      prefix,
      hash: hashSecret(key),
      role: options.role ?? 'member',
    },
  });
  return { keyId: row.id, key };
}

/** A key as an operator sees it: never the secret nor its hash, only the prefix that names it. */
export interface KeyListing {
  id: string;
  team: string;
  name: string;
  prefix: string;
  role: 'admin' | 'member';
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Every key (of one team when `teamName` is given), oldest first; throws when the team is unknown. */
export async function listKeys(db: Db, teamName?: string): Promise<KeyListing[]> {
  if (teamName !== undefined && !(await db.team.findUnique({ where: { name: teamName } })))
    throw new Error(`no team named ${JSON.stringify(teamName)}`);
  const rows = await db.apiKey.findMany({
    where: teamName === undefined ? {} : { team: { name: teamName } },
    select: {
      id: true,
      name: true,
      prefix: true,
      role: true,
      createdAt: true,
      lastUsedAt: true,
      revokedAt: true,
      team: { select: { name: true } },
    },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });
  return rows.map(({ team, ...k }) => ({ ...k, team: team.name }));
}

/** Mints a key for a team given its id (the HTTP route); returns the key once, and its row. */
export async function createTeamKey(
  db: Db,
  teamId: string,
  options: { name: string; role: 'admin' | 'member' },
) {
  const { key, prefix } = newKey();
  const row = await db.apiKey.create({
    data: { teamId, name: options.name, prefix, hash: hashSecret(key), role: options.role },
  });
  return { key, row };
}

/** Revokes a key given the key itself or its prefix; returns whether one was revoked. */
export async function revokeKey(db: Db, keyOrPrefix: string): Promise<boolean> {
  const prefix = keyOrPrefix.startsWith('rdk_') ? keyOrPrefix.split('_')[1] : keyOrPrefix;
  if (!prefix) return false;
  const res = await db.apiKey.updateMany({
    where: { prefix, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return res.count > 0;
}

/** The principal a bearer key stands for, or null (unknown, malformed or revoked). */
export async function authenticate(db: Db, key: string): Promise<Principal | null> {
  const m = /^rdk_([0-9a-f]{12})_[A-Za-z0-9_-]{16,}$/.exec(key);
  if (!m) return null;
  // plain SQL through the client's pool: this runs on every request (Prisma costs ~1 ms a query)
  const { rows } = await poolOf(db).query<{
    id: string;
    teamId: string;
    teamName: string;
    hash: Buffer;
    revoked: boolean;
    role: 'admin' | 'member';
  }>({
    name: 'repdyn-authenticate',
    text: `SELECT k.id, k."teamId", t.name AS "teamName", k.hash, k."revokedAt" IS NOT NULL AS revoked, k.role::text AS role
           FROM "ApiKey" k JOIN "Team" t ON t.id = k."teamId" WHERE k.prefix = $1`,
    values: [m[1]],
  });
  const row = rows[0];
  const expected = row && row.hash.byteLength === 32 ? row.hash : new Uint8Array(32);
  const ok = timingSafeEqual(expected, hashSecret(key));
  if (!row || !ok || row.revoked) return null;
  return { teamId: row.teamId, teamName: row.teamName, keyId: row.id, role: row.role };
}

/** The team's API keys (never the keys themselves), newest first. */
export function teamKeys(db: Db, teamId: string) {
  return db.apiKey.findMany({
    where: { teamId },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: 1000,
  });
}

export class KeyNotFound extends DomainError {
  constructor() {
    super('not-found', 'KEY_NOT_FOUND', 'no active key of this team with this id');
  }
}

/** Revokes one of the team's live keys (KeyNotFound when there is none). */
export async function revokeTeamKey(db: Db, teamId: string, keyId: string): Promise<void> {
  const res = await db.apiKey.updateMany({
    where: { id: keyId, teamId, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  if (res.count === 0) throw new KeyNotFound();
}
