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

describe.skipIf(!onPostgres)('prepared statements on PostgreSQL', () => {
  it('are prepared once per connection by default, and not at all when turned off (for poolers that cannot keep them)', async () => {
    const prepared = await preparedAfterTwoPages('true');
    expect(prepared.some((line) => line.startsWith('mcp_') && line.includes('WITH page AS'))).toBe(true);
    expect(prepared.every((line) => line.startsWith('mcp_'))).toBe(true);
    expect(await preparedAfterTwoPages('false')).toEqual([]);
  });
});
