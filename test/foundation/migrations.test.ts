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
});
