import { loader, type Context } from '../../graphql/context.ts';
import { Prisma, type AgentCatalog } from '../../generated/prisma/client.ts';
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

/**
 * The SQL form of availableModelsWhere (the same rule): whether the catalog entry
 * `catalogId` is effective for the workspace `workspaceId` (SQL expressions of the
 * statement it is part of), or enabled for the organization when there is none. For
 * statements that decide it for many entries at once.
 */
export function availableSql(organizationId: string, workspaceId: Prisma.Sql | null, catalogId: Prisma.Sql): Prisma.Sql {
  const organization = Prisma.sql`${organizationId}::uuid`;
  const visible = Prisma.sql`EXISTS (SELECT 1 FROM agent_catalog ac
    WHERE ac.id = ${catalogId} AND (ac.organization_id IS NULL OR ac.organization_id = ${organization}))`;
  const organizationGrant = Prisma.sql`EXISTS (SELECT 1 FROM agent_model_access og
    WHERE og.organization_id = ${organization} AND og.workspace_id IS NULL AND og.catalog_id = ${catalogId})`;
  if (!workspaceId) return Prisma.sql`(${visible} AND ${organizationGrant})`;
  return Prisma.sql`(${visible}
    AND (EXISTS (SELECT 1 FROM agent_model_access wg
                  WHERE wg.organization_id = ${organization} AND wg.workspace_id = ${workspaceId} AND wg.catalog_id = ${catalogId})
         OR (${organizationGrant}
             AND NOT EXISTS (SELECT 1 FROM agent_model_access anyg
                              WHERE anyg.organization_id = ${organization} AND anyg.workspace_id = ${workspaceId}))))`;
}

/**
 * Whether an entry is one of a workspace's effective models, for every (workspace,
 * entry) pair asked in one tick of a request in one statement, so that a page of
 * workspaces costs no more than one.
 */
export function isEffectiveFor(ctx: Context, workspaceId: string, catalogId: string): Promise<boolean> {
  return loader<string, boolean>(ctx, 'effectiveForWorkspace', async (keys) => {
    const organizationId = ctx.db.organizationId;
    const pairs = keys.map((key) => key.split('/') as [string, string]);
    const rows = await ctx.db.transaction((tx) => tx.$queryRaw<{ key: string }[]>`
      SELECT p.workspace_id::text || '/' || p.catalog_id::text AS key
      FROM unnest(${pairs.map(([workspace]) => workspace)}::uuid[], ${pairs.map(([, catalog]) => catalog)}::uuid[]) AS p(workspace_id, catalog_id)
      WHERE ${availableSql(organizationId, Prisma.sql`p.workspace_id`, Prisma.sql`p.catalog_id`)}`);
    const effective = new Set(rows.map((row) => row.key));
    return keys.map((key) => effective.has(key));
  }).load(`${workspaceId}/${catalogId}`);
}

/** What a runtime may use: the workspace's effective set, or the organization's when no workspace is named. */
export function availableModelsWhere(organizationId: string, workspaceId: string | null): CatalogWhere {
  return workspaceId ? effectiveModelsWhere(organizationId, workspaceId) : enabledForOrganizationWhere(organizationId);
}

/**
 * The catalog entries a caller may reach, at any depth of a response: a workspace-bound
 * token only its workspace's effective models (SPEC §17: nothing nested, a provider's
 * model list, a change event's subject, an entry's `inheritsFrom`, shows it another
 * one), any other token what its organization can see.
 */
export function catalogSeenBy(ctx: Context): CatalogWhere {
  const workspaceId = ctx.principal.workspaceId;
  return workspaceId ? effectiveModelsWhere(ctx.db.organizationId, workspaceId) : visibleTo(ctx.db.organizationId);
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
