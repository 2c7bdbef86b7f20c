import { loader, type Context } from '../../graphql/context.ts';
import type { AgentCatalog, Prisma } from '../../generated/prisma/client.ts';
import { primeEffectiveValues } from './effective.ts';
import { planConnection, whereAll, type ConnectionArgs, type Connection, type Ordering } from '../../graphql/pagination.ts';

type CatalogWhere = Prisma.AgentCatalogWhereInput;

interface CatalogPageQuery {
  where: CatalogWhere;
  orderBy: Prisma.AgentCatalogOrderByWithRelationInput[];
  take: number;
}

/**
 * Catalog pages, each its own keyset query (never a nested `take`, which Prisma
 * answers by loading every child) with the entries' effective values joined in, run
 * together in one transaction per tick.
 */
function catalogPageLoader(ctx: Context) {
  return loader<CatalogPageQuery, AgentCatalog[]>(ctx, 'catalogPage', (queries) =>
    ctx.db.transaction(async (tx) => {
      const pages: AgentCatalog[][] = [];
      for (const query of queries) {
        const rows = await tx.agentCatalog.findMany({ ...query, relationLoadStrategy: 'join', include: { effective: true } });
        primeEffectiveValues(ctx, rows);
        pages.push(rows.map(({ effective: _effective, ...entry }) => entry));
      }
      return pages;
    }),
  );
}

function catalogCountLoader(ctx: Context) {
  return loader<CatalogWhere, number>(ctx, 'catalogCount', (wheres) =>
    ctx.db.transaction(async (tx) => {
      const counts: number[] = [];
      for (const where of wheres) counts.push(await tx.agentCatalog.count({ where }));
      return counts;
    }),
  );
}

/**
 * A keyset page of catalog rows for one parent (a workspace, a provider). The pages
 * and counts that one response asks for are fetched in one batch each.
 */
export async function batchedCatalogConnection(
  ctx: Context,
  ordering: Ordering<AgentCatalog>,
  args: ConnectionArgs,
  where: CatalogWhere,
): Promise<Connection<AgentCatalog>> {
  const plan = planConnection(ordering, args);
  const rows = await catalogPageLoader(ctx).load({
    where: whereAll(where, plan.query.where) as CatalogWhere,
    orderBy: plan.query.orderBy,
    take: plan.query.take,
  });
  return plan.build(rows, () => catalogCountLoader(ctx).load(where));
}
