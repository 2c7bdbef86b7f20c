import { loader, type Context } from '../../graphql/context.ts';
import type { AgentCatalogEffective } from '../../generated/prisma/client.ts';

/**
 * Effective capabilities, limits and pricing of entries (SPEC §14), from the
 * agent_catalog_effective view, by entry id, one query per batch. Catalog pages read
 * them with their entries (catalogEntries: page-sql.ts; the pages of one parent: the
 * view joined, priming this loader).
 */
export function effectiveValuesLoader(ctx: Context) {
  return loader<string, AgentCatalogEffective | null>(ctx, 'catalogEffectiveValues', async (ids) => {
    const rows = await ctx.db.transaction((tx) => tx.agentCatalogEffective.findMany({ where: { id: { in: [...ids] } } }));
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** Hands the effective values a page read along with its entries to the loader. */
export function primeEffectiveValues(ctx: Context, rows: readonly { effective?: AgentCatalogEffective | null }[]): void {
  const effective = effectiveValuesLoader(ctx);
  for (const row of rows) if (row.effective) effective.prime(row.effective.id, row.effective);
}
