import { loader, type Context } from '../../graphql/context.ts';
import type { AgentCustomProvider } from '../../generated/prisma/client.ts';

/** Custom providers of one organization by id, batched per request. */
export function customProviderLoader(ctx: Context) {
  return loader<string, AgentCustomProvider | null>(ctx, 'customProviderById', async (ids) => {
    const rows = await ctx.db.transaction((tx) =>
      tx.agentCustomProvider.findMany({ where: { id: { in: [...ids] }, organizationId: ctx.db.organizationId } }),
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}
