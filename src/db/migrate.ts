import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Database, SqlSession } from './database.ts';
import { PROJECT_ROOT } from '../paths.ts';

export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'prisma', 'migrations');

// The key `prisma migrate deploy` locks with, so the CLI and the service exclude each other.
const PRISMA_ADVISORY_LOCK_KEY = 72707369;

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);`;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const bytes = fs.readFileSync(path.join(dir, name, 'migration.sql'));
      return {
        name,
        sql: bytes.toString('utf8'),
        checksum: crypto.createHash('sha256').update(bytes).digest('hex'),
      };
    });
}

export interface MigrationResult {
  applied: string[];
}

/**
 * Applies pending migrations in order, each in its own transaction, and records them
 * in `_prisma_migrations` as Prisma does. Holds Prisma's advisory lock meanwhile so
 * concurrently starting instances apply each migration once.
 */
export async function migrate(db: Database, migrations = readMigrations()): Promise<MigrationResult> {
  return db.withSession(async (session) => {
    await session.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
    try {
      return await applyPending(session, migrations);
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
    }
  });
}

async function applyPending(session: SqlSession, migrations: Migration[]): Promise<MigrationResult> {
  await session.exec(CREATE_MIGRATIONS_TABLE);
  const recorded = await session.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
    'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
  );
  const byName = new Map(recorded.map((row) => [row.migration_name, row]));
  const applied: string[] = [];
  for (const migration of migrations) {
    const existing = byName.get(migration.name);
    if (existing) {
      if (!existing.finished_at) {
        throw new Error(`Migration ${migration.name} was started but never finished; resolve it before starting.`);
      }
      if (existing.checksum !== migration.checksum) {
        throw new Error(`Migration ${migration.name} was modified after it was applied (checksum mismatch).`);
      }
      continue;
    }
    const id = crypto.randomUUID();
    await session.exec('BEGIN');
    try {
      await session.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), 0)`,
        [id, migration.checksum, migration.name],
      );
      await session.exec(migration.sql);
      await session.query(
        `UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`,
        [id],
      );
      await session.exec('COMMIT');
    } catch (error) {
      await session.exec('ROLLBACK');
      throw new Error(`Migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
    }
    applied.push(migration.name);
  }
  return { applied };
}
