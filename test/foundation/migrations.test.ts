import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { createTestDatabase } from '../support/database.ts';

describe('migrations', () => {
  it('applies once, records them as Prisma does, and refuses a modified migration', async () => {
    const target = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: target.databaseUrl, dataDir: target.dataDir });
    try {
      const migrations = readMigrations();
      expect((await migrate(db)).applied).toEqual(migrations.map((m) => m.name));
      expect((await migrate(db)).applied).toEqual([]);
      const rows = await db.withSession((s) =>
        s.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number; rolled_back_at: Date | null }>(
          'SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM _prisma_migrations ORDER BY migration_name',
        ),
      );
      expect(rows.map((r) => [r.migration_name, r.checksum, r.applied_steps_count, r.rolled_back_at])).toEqual(
        migrations.map((m) => [m.name, m.checksum, 1, null]),
      );
      expect(rows.every((r) => r.finished_at)).toBe(true);
      expect(migrations[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
      await db.withSession((s) => s.query(`UPDATE _prisma_migrations SET checksum = repeat('0', 64)`));
      await expect(migrate(db)).rejects.toThrow(/modified/);
    } finally {
      await db.close();
      await target.drop();
    }
  });

  it.skipIf(!process.env.DATABASE_URL)('lets two instances start at once and applies each migration once', async () => {
    const target = await createTestDatabase();
    const first = await openDatabase({ databaseUrl: target.databaseUrl, dataDir: target.dataDir });
    const second = await openDatabase({ databaseUrl: target.databaseUrl, dataDir: target.dataDir });
    try {
      const results = await Promise.all([migrate(first), migrate(second)]);
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, readMigrations().length]);
      const [{ n }] = await first.withSession((s) => s.query<{ n: number }>('SELECT count(*)::int AS n FROM _prisma_migrations'));
      expect(n).toBe(readMigrations().length);
    } finally {
      await first.close();
      await second.close();
      await target.drop();
    }
  });

  it.skipIf(!process.env.DATABASE_URL)('stores the effective values of entries written before the migration that stores them', async () => {
    const target = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: target.databaseUrl, dataDir: target.dataDir });
    const rows = new pg.Client({ connectionString: target.databaseUrl });
    try {
      const migrations = readMigrations();
      const stored = migrations.findIndex((m) => m.name.endsWith('_catalog_effective_columns'));
      await migrate(db, migrations.slice(0, stored));
      // Entries as the release before wrote them.
      await rows.connect();
      const [{ id: org }] = (await rows.query(`INSERT INTO organization (name) VALUES ('Before') RETURNING id`)).rows;
      const [{ id: provider }] = (await rows.query(`INSERT INTO agent_custom_provider (organization_id, display_name) VALUES ($1, 'Gateway') RETURNING id`, [org])).rows;
      const [{ id: platform }] = (
        await rows.query(`INSERT INTO agent_catalog (model_provider, model_name, model_metadata) VALUES ('openai', 'kept-model', '{"supports_vision": true, "max_input_tokens": 7}') RETURNING id`)
      ).rows;
      await rows.query(
        `INSERT INTO agent_catalog (organization_id, custom_provider_id, model_provider, model_name) VALUES ($1, $2, 'custom-model-provider', 'team/kept-model')`,
        [org, provider],
      );
      expect((await migrate(db)).applied).toEqual(migrations.slice(stored).map((m) => m.name));
      const { rows: entries } = await rows.query(
        `SELECT model_name, inherits_from_id, effective_capabilities, effective_max_input_tokens FROM agent_catalog ORDER BY model_name`,
      );
      expect(entries).toEqual([
        { model_name: 'kept-model', inherits_from_id: null, effective_capabilities: ['vision'], effective_max_input_tokens: 7 },
        { model_name: 'team/kept-model', inherits_from_id: platform, effective_capabilities: ['vision'], effective_max_input_tokens: 7 },
      ]);
      // Nothing of the backfill is a change of its own.
      const [{ n }] = (await rows.query(`SELECT count(*)::int AS n FROM change_event WHERE action = 'UPDATED'`)).rows;
      expect(n).toBe(0);
    } finally {
      await rows.end().catch(() => {});
      await db.close();
      await target.drop();
    }
  });
});
