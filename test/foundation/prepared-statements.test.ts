import { describe, expect, it } from 'vitest';
import { scopedTransaction } from '../../src/db/scope.ts';
import { startTestApp, ok } from '../support/harness.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);
const PAGE = '{ catalogEntries(first: 5) { edges { node { modelName capabilities } } } }';

/** The service's statements prepared on its one connection, after two catalog pages. */
async function preparedAfterTwoPages(setting: 'true' | 'false'): Promise<string[]> {
  const t = await startTestApp({ DATABASE_POOL_SIZE: '1', DATABASE_PREPARED_STATEMENTS: setting, RESPONSE_CACHE_MAX_BYTES: '0' });
  try {
    const org = await t.organization('Prepared');
    ok(await t.request(PAGE, {}, { token: org.token }));
    ok(await t.request(PAGE, {}, { token: org.token }));
    const rows = await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id }, (tx) =>
      tx.$queryRaw<{ name: string; statement: string }[]>`SELECT name, statement FROM pg_prepared_statements`,
    );
    return rows.map((row) => `${row.name} ${row.statement.slice(0, 40)}`);
  } finally {
    await t.close();
  }
}

/**
 * How PostgreSQL planned the catalog page statement on the service's one connection,
 * after one unfiltered page of each size, over an organization with enough entries
 * that a plan for the page size looks cheaper than a generic one.
 */
async function unfilteredPagePlans(sizes: number[]) {
  const t = await startTestApp({ DATABASE_POOL_SIZE: '1', RESPONSE_CACHE_MAX_BYTES: '0' });
  try {
    const org = await t.organization('Plans');
    await t.services.database.withSession(async (session) => {
      await session.query(
        `INSERT INTO agent_catalog (organization_id, model_provider, model_name, created_at)
         SELECT $1::uuid, 'openai', 'plan-model-' || i, now() - i * interval '1 minute' FROM generate_series(1, 3000) i`,
        [org.id],
      );
      await session.exec('ANALYZE agent_catalog');
    });
    for (const first of sizes) ok(await t.request('query ($first: Int!) { catalogEntries(first: $first) { edges { node { modelName } } } }', { first }, { token: org.token }));
    return await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id }, (tx) =>
      tx.$queryRaw<{ generic: number; custom: number }[]>`
        SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE statement LIKE 'WITH page AS%'`,
    );
  } finally {
    await t.close();
  }
}

describe.skipIf(!onPostgres)('prepared statements on PostgreSQL', () => {
  it('keep one generic plan for an unfiltered catalog page, whatever its size, instead of planning it at every execution', async () => {
    // PostgreSQL plans a statement for its values five times before it weighs its generic plan.
    expect(await unfilteredPagePlans([3, 7, 11, 19, 23, 29, 31, 37, 41, 43])).toEqual([{ generic: 5, custom: 5 }]);
  });

  it('are prepared once per connection by default, and not at all when turned off (for poolers that cannot keep them)', async () => {
    const prepared = await preparedAfterTwoPages('true');
    expect(prepared.some((line) => line.startsWith('mcp_') && line.includes('WITH page AS'))).toBe(true);
    expect(prepared.every((line) => line.startsWith('mcp_'))).toBe(true);
    expect(await preparedAfterTwoPages('false')).toEqual([]);
  });
});
