import { builder, access } from '../../builder.ts';
import { loader, type Context } from '../../context.ts';
import type { AgentCatalog, Prisma } from '../../generated/prisma/client.ts';
import { selectedFieldNames } from '../../lookahead.ts';
import { paginate, type ConnectionArgs, type Ordering } from '../../pagination.ts';
import { CatalogEntryConnection, CatalogEntryFilterInput, CatalogEntryRef, customProviderLoader } from './schema.ts';
import { catalogFilterWhere, type CatalogEntryFilter } from './filter.ts';

export const SortDirectionEnum = builder.enumType('SortDirection', { values: ['ASC', 'DESC'] as const });

const CatalogEntryOrderFieldEnum = builder.enumType('CatalogEntryOrderField', {
  values: ['CREATED_AT', 'MODEL_NAME', 'MODEL_PROVIDER'] as const,
});

type OrderField = 'CREATED_AT' | 'MODEL_NAME' | 'MODEL_PROVIDER';
type Direction = 'ASC' | 'DESC';

const CatalogEntryOrderInput = builder.inputType('CatalogEntryOrder', {
  fields: (t) => ({
    field: t.field({ type: CatalogEntryOrderFieldEnum, required: true }),
    direction: t.field({ type: SortDirectionEnum, required: true }),
  }),
});

/** Each order keeps the id as tie-breaker, in the same direction; provider order also sorts by name. */
function catalogOrdering(field: OrderField, direction: Direction): Ordering<AgentCatalog> {
  const dir = direction === 'ASC' ? 'asc' : 'desc';
  const id = { field: 'id', direction: dir, kind: 'string' } as const;
  switch (field) {
    case 'CREATED_AT':
      return { name: `catalog:created:${dir}`, keys: [{ field: 'createdAt', direction: dir, kind: 'date' }, id] };
    case 'MODEL_NAME':
      return { name: `catalog:name:${dir}`, keys: [{ field: 'modelName', direction: dir, kind: 'string' }, id] };
    case 'MODEL_PROVIDER':
      return {
        name: `catalog:provider:${dir}`,
        keys: [
          { field: 'modelProvider', direction: dir, kind: 'string' },
          { field: 'modelName', direction: dir, kind: 'string' },
          id,
        ],
      };
  }
}

/** What a page of entries fetches along with the rows, in the same statement. */
export interface CatalogPageExtras {
  customProvider: boolean;
  enabledForOrganization: boolean;
}

export function listCatalogEntries(
  ctx: Context,
  args: ConnectionArgs,
  filter: CatalogEntryFilter | null | undefined,
  order: { field: OrderField; direction: Direction } | null | undefined,
  extras: CatalogPageExtras = { customProvider: false, enabledForOrganization: false },
) {
  const where = catalogFilterWhere(ctx, filter);
  return paginate(
    catalogOrdering(order?.field ?? 'CREATED_AT', order?.direction ?? 'DESC'),
    args,
    where,
    (query) => fetchCatalogPage(ctx, query, extras),
    (query) => ctx.db.transaction((tx) => tx.agentCatalog.count(query)),
  );
}

/**
 * One page of entries. The provider and the organization-level grant, when the
 * response asks for them, are joined into the page's statement (LATERAL joins) and
 * handed to the loaders their fields read from.
 */
async function fetchCatalogPage(
  ctx: Context,
  query: { where: Prisma.AgentCatalogWhereInput; orderBy: Prisma.AgentCatalogOrderByWithRelationInput[]; take: number },
  extras: CatalogPageExtras,
): Promise<AgentCatalog[]> {
  if (!extras.customProvider && !extras.enabledForOrganization) {
    return ctx.db.transaction((tx) => tx.agentCatalog.findMany(query));
  }
  const rows = await ctx.db.transaction((tx) =>
    tx.agentCatalog.findMany({
      ...query,
      relationLoadStrategy: 'join',
      include: {
        customProvider: extras.customProvider,
        access: extras.enabledForOrganization
          ? { where: { organizationId: ctx.db.organizationId, workspaceId: null }, select: { id: true }, take: 1 }
          : false,
      },
    }),
  );
  const providers = customProviderLoader(ctx);
  const enabled = enabledLoader(ctx);
  return rows.map(({ customProvider, access, ...entry }) => {
    if (customProvider) providers.prime(customProvider.id, customProvider);
    if (access) enabled.prime(entry.id, access.length > 0);
    return entry;
  });
}

/** Which of the given entries have an organization-level grant; one query per batch. */
function enabledLoader(ctx: Context) {
  return loader<string, boolean>(ctx, 'catalogEnabledForOrganization', async (ids) => {
    const organizationId = ctx.db.organizationId;
    const grants = await ctx.db.transaction((tx) =>
      tx.agentModelAccess.findMany({
        where: { organizationId, workspaceId: null, catalogId: { in: [...ids] } },
        select: { catalogId: true },
      }),
    );
    const enabled = new Set(grants.map((grant) => grant.catalogId));
    return ids.map((id) => enabled.has(id));
  });
}

builder.objectField(CatalogEntryRef, 'enabledForOrganization', (t) =>
  t.boolean({
    description: 'True when the organization has an organization-level grant for this entry.',
    resolve: (entry, _args, ctx) => enabledLoader(ctx).load(entry.id),
  }),
);

builder.queryField('catalogEntries', (t) =>
  t.connection(
    {
      type: CatalogEntryRef,
      ...access(['agent:read']),
      args: {
        filter: t.arg({ type: CatalogEntryFilterInput }),
        orderBy: t.arg({ type: CatalogEntryOrderInput }),
      },
      resolve: (_root, args, ctx, info) => {
        const selected = selectedFieldNames(info);
        return listCatalogEntries(ctx, args, args.filter, args.orderBy, {
          customProvider: selected.has('customProvider'),
          enabledForOrganization: selected.has('enabledForOrganization'),
        });
      },
    },
    CatalogEntryConnection,
  ),
);
