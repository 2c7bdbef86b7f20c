import { builder, access } from '../../graphql/builder.ts';
import { loader, type Context } from '../../graphql/context.ts';
import type { AgentCatalog, Prisma } from '../../generated/prisma/client.ts';
import { selectedFieldNames } from '../../graphql/lookahead.ts';
import { paginate, type ConnectionArgs, type Ordering } from '../../graphql/pagination.ts';
import { CatalogEntryConnection, CatalogEntryFilterInput, CatalogEntryRef } from './schema.ts';
import { customProviderLoader } from '../providers/loaders.ts';
import { catalogFilterWhere, type CatalogEntryFilter } from './filter.ts';
import { primeEffectiveValues } from './effective.ts';

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

/** What the response reads of each entry beyond its plain columns (from the selection). */
export interface CatalogPageNeeds {
  /** The raw model_metadata document (the `metadata` field). */
  metadata: boolean;
  /** Effective capabilities, limits, pricing or the inherited entry. */
  effective: boolean;
  customProvider: boolean;
  enabledForOrganization: boolean;
}

export function listCatalogEntries(
  ctx: Context,
  args: ConnectionArgs,
  filter: CatalogEntryFilter | null | undefined,
  order: { field: OrderField; direction: Direction } | null | undefined,
  needs: CatalogPageNeeds,
) {
  const where = catalogFilterWhere(ctx, filter);
  return paginate(
    catalogOrdering(order?.field ?? 'CREATED_AT', order?.direction ?? 'DESC'),
    args,
    where,
    (query) => fetchCatalogPage(ctx, query, needs),
    (query) => ctx.db.transaction((tx) => tx.agentCatalog.count(query)),
  );
}

/**
 * One page of entries, in one statement. The metadata document is left out unless
 * asked for (capabilities, limits and pricing come from the effective values). The
 * effective values, the provider and the organization-level grant, when asked for, are
 * joined in (LATERAL joins) and handed to the loaders their fields read from.
 */
async function fetchCatalogPage(
  ctx: Context,
  query: { where: Prisma.AgentCatalogWhereInput; orderBy: Prisma.AgentCatalogOrderByWithRelationInput[]; take: number },
  needs: CatalogPageNeeds,
): Promise<AgentCatalog[]> {
  const rows = await ctx.db.transaction((tx) =>
    tx.agentCatalog.findMany({
      ...query,
      omit: { modelMetadata: !needs.metadata },
      ...(needs.effective || needs.customProvider || needs.enabledForOrganization ? { relationLoadStrategy: 'join' as const } : {}),
      include: {
        effective: needs.effective,
        customProvider: needs.customProvider,
        access: needs.enabledForOrganization
          ? { where: { organizationId: ctx.db.organizationId, workspaceId: null }, select: { id: true }, take: 1 }
          : false,
      },
    }),
  );
  const providers = customProviderLoader(ctx);
  const enabled = enabledLoader(ctx);
  primeEffectiveValues(ctx, rows);
  return rows.map(({ customProvider, access, effective: _effective, ...entry }) => {
    if (customProvider) providers.prime(customProvider.id, customProvider);
    if (access) enabled.prime(entry.id, access.length > 0);
    // Without modelMetadata only when the selection does not read it.
    return entry as AgentCatalog;
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
          metadata: selected.has('metadata'),
          effective: ['capabilities', 'limits', 'pricing', 'inheritsFrom'].some((field) => selected.has(field)),
          customProvider: selected.has('customProvider'),
          enabledForOrganization: selected.has('enabledForOrganization'),
        });
      },
    },
    CatalogEntryConnection,
  ),
);
