import type { Context } from '../../graphql/context.ts';
import type { AgentCatalog, Prisma } from '../../generated/prisma/client.ts';
import { forbidden } from '../../graphql/errors.ts';
import { whereAll, type ConnectionArgs, type Connection, type Ordering } from '../../graphql/pagination.ts';
import { batchedCatalogConnection } from '../catalog/batched-page.ts';
import { catalogFilterWhere, visibleTo, type CatalogEntryFilter } from '../catalog/filter.ts';

type CatalogWhere = Prisma.AgentCatalogWhereInput;

/** Visible entries with an organization-level grant. */
export function enabledForOrganizationWhere(organizationId: string): CatalogWhere {
  return { AND: [visibleTo(organizationId), { access: { some: { organizationId, workspaceId: null } } }] };
}

/**
 * The effective models of a workspace (SPEC §5), as one condition so that it is
 * evaluated in the same statement (and snapshot) as the rest of the query: the
 * workspace's own grants when it has any — an override, not a union, and they need
 * not be enabled for the organization — otherwise the organization-level grants.
 * Only visible entries count.
 */
export function effectiveModelsWhere(organizationId: string, workspaceId: string): CatalogWhere {
  return {
    AND: [
      visibleTo(organizationId),
      {
        OR: [
          { access: { some: { organizationId, workspaceId } } },
          {
            access: {
              some: {
                organizationId,
                workspaceId: null,
                organization: { modelAccess: { none: { workspaceId } } },
              },
            },
          },
        ],
      },
    ],
  };
}

/** What a runtime may use: the workspace's effective set, or the organization's when no workspace is named. */
export function availableModelsWhere(organizationId: string, workspaceId: string | null): CatalogWhere {
  return workspaceId ? effectiveModelsWhere(organizationId, workspaceId) : enabledForOrganizationWhere(organizationId);
}

/** A workspace-bound token may only look at its own workspace (SPEC §1). */
export function assertOwnWorkspace(ctx: Context, workspaceId: string): void {
  const own = ctx.principal.workspaceId;
  if (own && own !== workspaceId) throw forbidden('a workspace-bound token may only use its own workspace');
}

const modelsByProviderOrdering: Ordering<AgentCatalog> = {
  name: 'catalog:provider-name',
  keys: [
    { field: 'modelProvider', direction: 'asc', kind: 'string' },
    { field: 'modelName', direction: 'asc', kind: 'string' },
    { field: 'id', direction: 'asc', kind: 'string' },
  ],
};

/**
 * One page of a workspace's effective models, ordered by provider, name and id.
 * Callers check that the workspace exists and may be seen; the workspace's pages of
 * one response are fetched in one batch.
 */
export async function effectiveModelsConnection(
  ctx: Context,
  workspaceId: string,
  args: ConnectionArgs,
  filter: CatalogEntryFilter | null | undefined,
): Promise<Connection<AgentCatalog>> {
  const where = whereAll(
    catalogFilterWhere(ctx, filter),
    effectiveModelsWhere(ctx.db.organizationId, workspaceId),
  ) as CatalogWhere;
  return batchedCatalogConnection(ctx, modelsByProviderOrdering, args, where);
}
