/**
 * Where a catalog page's data-access time goes: the same page of 51 rows, read one
 * request after another (no concurrency, so the figures are per-operation CPU), by
 * the service's own data layer and by plain `pg`. Run in the bench process against
 * the seeded database, after the targets.
 */
import pg from 'pg';
import { openDatabase } from '../src/db/database.ts';
import { scopedTransaction } from '../src/db/scope.ts';
import { fetchCatalogPageEntries, type CatalogPageQuery } from '../src/modules/catalog/page-sql.ts';
import { catalogFilterSql } from '../src/modules/catalog/filter.ts';
import { newestFirst } from '../src/graphql/pagination.ts';
import type { Context } from '../src/graphql/context.ts';

export interface DataAccessCost {
  name: string;
  /** CPU of this process (all threads) per operation. */
  cpuMs: number;
  wallMs: number;
}

const PAGE = 51;
const WARMUP = 200;

async function measure(name: string, iterations: number, operation: () => Promise<unknown>): Promise<DataAccessCost> {
  for (let i = 0; i < WARMUP; i++) await operation();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await operation();
  const used = process.cpuUsage(cpu);
  return { name, cpuMs: (used.user + used.system) / 1000 / iterations, wallMs: (performance.now() - started) / iterations };
}

export async function measureDataAccess(dbUrl: string, organizationId: string, iterations = 2000): Promise<DataAccessCost[]> {
  const database = await openDatabase({ databaseUrl: dbUrl, dataDir: 'memory://', poolSize: 2 });
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  const prisma = database.prisma;
  const scope = { kind: 'tenant', organizationId } as const;
  // A page as findMany reads it, without the joins: every column but the metadata document.
  const page = {
    where: { OR: [{ organizationId }, { organizationId: null }] },
    orderBy: [{ createdAt: 'desc' as const }, { id: 'desc' as const }],
    take: PAGE,
    omit: { modelMetadata: true },
  };
  const pageSql = `SELECT id, organization_id, custom_provider_id, model_provider, model_name, display_name, last_refreshed_at,
      created_at, updated_at, capabilities, max_input_tokens, max_output_tokens, input_cost_per_token, output_cost_per_token
    FROM agent_catalog WHERE organization_id = $1 OR organization_id IS NULL ORDER BY created_at DESC, id DESC LIMIT ${PAGE}`;
  // The service's own catalog page (catalogEntries with Q1's selection): JSON built by PostgreSQL, sent to the transaction's connection.
  const sqlPage: CatalogPageQuery = {
    organizationId,
    ...catalogFilterSql({ db: { organizationId } } as unknown as Context, null),
    ordering: newestFirst('catalog:created:desc'),
    keyset: { backward: false, take: PAGE },
    needs: new Set(['capabilities', 'limits', 'customProvider', 'enabledForOrganization']),
  };
  try {
    return [
      await measure('pg: BEGIN, scope, page, COMMIT', iterations, async () => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query("SELECT set_config('role', 'mcp_app', true), set_config('app.current_org_id', $1, true)", [organizationId]);
          await client.query(pageSql, [organizationId]);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }),
      await measure('pg: page alone', iterations, () => pool.query(pageSql, [organizationId])),
      await measure('Prisma: scoped transaction with the page (findMany)', iterations, () =>
        scopedTransaction(prisma, scope, (tx) => tx.agentCatalog.findMany(page)),
      ),
      await measure('Prisma: scoped transaction with the service\'s page (JSON, on the transaction\'s connection)', iterations, () =>
        scopedTransaction(prisma, scope, (tx) => fetchCatalogPageEntries(tx, sqlPage)),
      ),
      await measure('Prisma: scoped transaction, empty', iterations, () => scopedTransaction(prisma, scope, async () => {})),
      await measure('Prisma: page alone', iterations, () => prisma.agentCatalog.findMany(page)),
    ];
  } finally {
    await database.close();
    await pool.end();
  }
}
