// The test database alone (no API, no Redis, no worker), with a team of its own, for tests of store/
// and worker/ pieces that take a Db. close() removes the team (its experiments cascade).
import { randomBytes } from 'node:crypto';
import { createTeam } from '../../store/auth.ts';
import { createDb, type Db, type ExperimentStatus } from '../../store/db.ts';
import { testConfig } from './env.ts';
import { tinySpec } from './service.ts';

export interface TestDb {
  db: Db;
  databaseUrl: string;
  teamId: string;
  /** An experiment row of this team in `status` (no runs, no cells). */
  experiment(status?: ExperimentStatus): Promise<string>;
  close(): Promise<void>;
}

export async function startDb(): Promise<TestDb> {
  const { databaseUrl } = testConfig();
  const db = createDb(databaseUrl, { poolSize: 2 });
  const { teamId } = await createTeam(db, `test-${randomBytes(4).toString('hex')}-db`);
  return {
    db,
    databaseUrl,
    teamId,
    async experiment(status = 'queued') {
      const e = await db.experiment.create({
        data: { teamId, name: 'row', spec: tinySpec(), specHash: randomBytes(8).toString('hex'), status },
        select: { id: true },
      });
      return e.id;
    },
    async close() {
      await db.team.deleteMany({ where: { id: teamId } });
      await db.$disconnect();
    },
  };
}
