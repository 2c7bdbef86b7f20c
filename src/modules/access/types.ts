import { builder } from '../../graphql/builder.ts';
import { connectionOf } from '../../graphql/connections.ts';
import { CatalogEntryRef } from '../catalog/schema.ts';
import { WorkspaceRef } from '../tenancy/schema.ts';
import { visibleTo } from '../catalog/filter.ts';
import { catalogEntryLoader, workspaceLoader } from './loaders.ts';

// The catalog module imports ModelAccessRef for its create payload, and this module
// imports CatalogEntryRef: imported refs are only touched inside the lazy `fields`
// thunks, so the import cycle is harmless.

export const AccessLevelEnum = builder.enumType('AccessLevel', { values: ['ORGANIZATION', 'WORKSPACE'] as const });

export const ModelAccessRef = builder.prismaNode('AgentModelAccess', {
  name: 'ModelAccess',
  id: { field: 'id' },
  // node() answers null for an unknown or foreign grant instead of failing.
  nullable: true,
  findUnique: (id, ctx) => ({
    id,
    organizationId: ctx.db.organizationId,
    catalogEntry: visibleTo(ctx.db.organizationId),
  }),
  fields: (t) => ({
    databaseId: t.expose('id', { type: 'UUID' }),
    level: t.field({
      type: AccessLevelEnum,
      resolve: (grant) => (grant.workspaceId === null ? 'ORGANIZATION' : 'WORKSPACE'),
    }),
    workspace: t.field({
      type: WorkspaceRef,
      nullable: true,
      description: 'The workspace of a WORKSPACE grant; null for an organization-level grant.',
      resolve: (grant, _args, ctx) => (grant.workspaceId ? workspaceLoader(ctx).load(grant.workspaceId) : null),
    }),
    catalogEntry: t.field({
      type: CatalogEntryRef,
      resolve: async (grant, _args, ctx) => {
        const entry = await catalogEntryLoader(ctx).load(grant.catalogId);
        // Grants are only listed for visible entries, and RLS refuses grants of invisible ones.
        if (!entry) throw new Error(`grant ${grant.id} names a catalog entry its organization cannot see`);
        return entry;
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const ModelAccessConnection = connectionOf(ModelAccessRef, 'ModelAccess');
