import { loader, type Context } from '../../graphql/context.ts';
import type { AgentCatalog, AgentModelAccess, Workspace } from '../../generated/prisma/client.ts';
import { catalogSeenBy } from './effective.ts';

/** Catalog entries the caller may see (a workspace-bound token: its workspace's effective ones), by id, batched per request. */
export function catalogEntryLoader(ctx: Context) {
  return loader<string, AgentCatalog | null>(ctx, 'visibleCatalogEntryById', async (ids) => {
    const rows = await ctx.db.transaction((tx) =>
      tx.agentCatalog.findMany({ where: { AND: [{ id: { in: [...ids] } }, catalogSeenBy(ctx)] } }),
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** Workspaces of the caller's organization (a workspace-bound token: its own only), by id, batched per request. */
export function workspaceLoader(ctx: Context) {
  return loader<string, Workspace | null>(ctx, 'workspaceById', async (ids) => {
    const organizationId = ctx.db.organizationId;
    const bound = ctx.principal.workspaceId;
    const rows = await ctx.db.transaction((tx) =>
      tx.workspace.findMany({ where: { id: { in: bound ? ids.filter((id) => id === bound) : [...ids] }, organizationId } }),
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** Whether each workspace has grants of its own (which replace the organization's set). */
export function accessOverrideLoader(ctx: Context) {
  return loader<string, boolean>(ctx, 'workspaceHasAccessOverride', async (workspaceIds) => {
    const organizationId = ctx.db.organizationId;
    const groups = await ctx.db.transaction((tx) =>
      tx.agentModelAccess.groupBy({
        by: ['workspaceId'],
        where: { organizationId, workspaceId: { in: [...workspaceIds] } },
      }),
    );
    const overridden = new Set(groups.map((group) => group.workspaceId));
    return workspaceIds.map((id) => overridden.has(id));
  });
}

/**
 * Grants of the caller's organization on entries it may see, by id, batched per request;
 * a workspace-bound token sees only its workspace's and the organization's grants, on
 * its workspace's effective entries.
 */
export function modelAccessLoader(ctx: Context) {
  return loader<string, AgentModelAccess | null>(ctx, 'modelAccessById', async (ids) => {
    const organizationId = ctx.db.organizationId;
    const bound = ctx.principal.workspaceId;
    const rows = await ctx.db.transaction((tx) =>
      tx.agentModelAccess.findMany({
        where: {
          id: { in: [...ids] },
          organizationId,
          catalogEntry: catalogSeenBy(ctx),
          ...(bound ? { OR: [{ workspaceId: null }, { workspaceId: bound }] } : {}),
        },
      }),
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}
