import { builder, access } from '../../graphql/builder.ts';
import { loader, type Context } from '../../graphql/context.ts';
import type { AgentCatalog } from '../../generated/prisma/client.ts';
import { selectedFieldNames } from '../../graphql/lookahead.ts';
import { planConnection, type Connection, type ConnectionArgs, type Ordering } from '../../graphql/pagination.ts';
import { CatalogEntryConnection, CatalogEntryFilterInput, CatalogEntryRef } from './schema.ts';
import { catalogFilterSql, type CatalogEntryFilter } from './filter.ts';
import { countCatalogRows, fetchCatalogPageEntries, readWithPage, type CatalogPageNeeds } from './page-sql.ts';

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

export function listCatalogEntries(
  ctx: Context,
  args: ConnectionArgs,
  filter: CatalogEntryFilter | null | undefined,
  order: { field: OrderField; direction: Direction } | null | undefined,
  needs: CatalogPageNeeds,
): Promise<Connection<AgentCatalog>> {
  const { where, byValue } = catalogFilterSql(ctx, filter);
  const ordering = catalogOrdering(order?.field ?? 'CREATED_AT', order?.direction ?? 'DESC');
  const plan = planConnection(ordering, args);
  const organizationId = ctx.db.organizationId;
  const query = { organizationId, where, byValue, ordering, keyset: plan.keyset, needs };
  return ctx.db.transaction((tx) => fetchCatalogPageEntries(tx, query)).then((entries) => {
    let counted: Promise<number> | undefined;
    return plan.build(entries, () => (counted ??= ctx.db.transaction((tx) => countCatalogRows(tx, organizationId, where))));
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
    resolve: (entry, _args, ctx) => readWithPage(entry)?.enabled ?? enabledLoader(ctx).load(entry.id),
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
      resolve: (_root, args, ctx, info) => listCatalogEntries(ctx, args, args.filter, args.orderBy, selectedFieldNames(info)),
    },
    CatalogEntryConnection,
  ),
);
