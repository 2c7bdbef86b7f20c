import { builder, access, encodeGlobalId, parseId } from '../../graphql/builder.ts';
import { defineMutation, deletePayload } from '../../graphql/mutation.ts';
import { bounded } from '../../graphql/input-bounds.ts';
import type { AgentModelAccess } from '../../generated/prisma/client.ts';
import { CatalogEntryConnection, CatalogEntryFilterInput, CatalogEntryRef } from '../catalog/schema.ts';
import { WorkspaceRef } from '../tenancy/schema.ts';
import { ModelAccessConnection, ModelAccessRef } from './types.ts';
import { accessOverrideLoader } from './loaders.ts';
import { assertOwnWorkspace, effectiveModelsConnection } from './effective.ts';
import * as grants from './service.ts';
import * as bulk from './bulk.ts';
import { MAX_BULK_IDS, parseCatalogEntryIds } from './bulk.ts';

builder.objectFields(WorkspaceRef, (t) => ({
  hasAccessOverride: t.boolean({
    description: "True when the workspace has grants of its own, which replace the organization's set.",
    resolve: (workspace, _args, ctx) => accessOverrideLoader(ctx).load(workspace.id),
  }),
  effectiveModels: t.connection(
    {
      type: CatalogEntryRef,
      description: "The models this workspace may use (its own grants if any, else the organization's).",
      args: { filter: t.arg({ type: CatalogEntryFilterInput }) },
      resolve: (workspace, args, ctx) => {
        assertOwnWorkspace(ctx, workspace.id);
        return effectiveModelsConnection(ctx, workspace.id, args, args.filter);
      },
    },
    CatalogEntryConnection,
  ),
}));

builder.queryFields((t) => ({
  modelAccessGrants: t.connection(
    {
      type: ModelAccessRef,
      description: "Without workspaceId: every grant of the organization. With it: that workspace's own grants.",
      ...access(['agent:read']),
      args: { workspaceId: t.arg.id() },
      resolve: (_root, args, ctx) =>
        grants.listGrants(ctx, args, args.workspaceId == null ? null : parseId(args.workspaceId, 'Workspace', 'workspaceId')),
    },
    ModelAccessConnection,
  ),
  workspaceModels: t.connection(
    {
      type: CatalogEntryRef,
      description: 'The models a workspace may use.',
      ...access(['agent:read'], { workspaceTokens: true }),
      args: {
        workspaceId: t.arg.id({ required: true }),
        filter: t.arg({ type: CatalogEntryFilterInput }),
      },
      resolve: async (_root, args, ctx) => {
        const workspaceId = parseId(args.workspaceId, 'Workspace', 'workspaceId');
        assertOwnWorkspace(ctx, workspaceId);
        await grants.requireWorkspace(ctx, workspaceId);
        return effectiveModelsConnection(ctx, workspaceId, args, args.filter);
      },
    },
    CatalogEntryConnection,
  ),
}));

const EnableModelInput = builder.inputType('EnableModelInput', {
  fields: (t) => ({
    catalogEntryId: t.id({ required: true }),
    workspaceId: t.id({ description: 'Absent or null: an organization-level grant.' }),
  }),
});
const EnableModelPayload = builder.objectRef<{ modelAccess: AgentModelAccess }>('EnableModelPayload').implement({
  fields: (t) => ({ modelAccess: t.field({ type: ModelAccessRef, resolve: (payload) => payload.modelAccess }) }),
});
defineMutation('enableModel', {
  access: access(['agent:create']),
  audit: { resourceType: 'agent_model_access', action: 'create' },
  repeatable: true,
  input: EnableModelInput,
  payload: EnableModelPayload,
  resolve: async (input, ctx, op) => {
    const catalogId = parseId(input.catalogEntryId, 'CatalogEntry', 'input.catalogEntryId');
    const workspaceId = input.workspaceId == null ? null : parseId(input.workspaceId, 'Workspace', 'input.workspaceId');
    return { modelAccess: await grants.enableModel(ctx, op, { catalogId, workspaceId }) };
  },
});

const DisableModelInput = builder.inputType('DisableModelInput', {
  fields: (t) => ({ id: t.id({ required: true, description: 'The ModelAccess to remove.' }) }),
});
const DisableModelPayload = deletePayload('DisableModelPayload');
defineMutation('disableModel', {
  access: access(['agent:delete']),
  audit: { resourceType: 'agent_model_access', action: 'delete' },
  repeatable: true,
  input: DisableModelInput,
  payload: DisableModelPayload,
  resolve: async (input, ctx, op) => {
    const id = parseId(input.id, 'ModelAccess', 'input.id');
    await grants.disableModel(ctx, op, id);
    return { deletedId: encodeGlobalId('ModelAccess', id) };
  },
});

/** The level a bulk input names, and its distinct catalog entry ids. */
function bulkTarget(input: { catalogEntryIds: readonly string[]; workspaceId?: string | null }, minimum: 0 | 1) {
  const workspaceId = input.workspaceId == null ? null : parseId(input.workspaceId, 'Workspace', 'input.workspaceId');
  return { target: { workspaceId }, catalogIds: parseCatalogEntryIds(input.catalogEntryIds, 'input.catalogEntryIds', minimum) };
}

const EnableModelsInput = builder.inputType('EnableModelsInput', {
  description: '(v2) Grants many entries at once, all or nothing: an entry that is not visible fails the whole call with NOT_FOUND.',
  fields: (t) => ({
    catalogEntryIds: t.idList({ required: true, ...bounded({ maxItems: MAX_BULK_IDS }, '1 to 5000 entries; repeated ids count once.') }),
    workspaceId: t.id({ description: 'Absent or null: organization-level grants.' }),
  }),
});
const EnableModelsPayload = builder
  .objectRef<{ modelAccesses: AgentModelAccess[]; createdCount: number }>('EnableModelsPayload')
  .implement({
    fields: (t) => ({
      modelAccesses: t.field({
        type: [ModelAccessRef],
        description: 'The grant of every requested entry, those that existed already included, in the order first requested.',
        resolve: (payload) => payload.modelAccesses,
      }),
      createdCount: t.exposeInt('createdCount', { description: 'How many grants this call created.' }),
    }),
  });
defineMutation('enableModels', {
  access: access(['agent:create']),
  audit: { resourceType: 'agent_model_access', action: 'create' },
  // Idempotent: a repeat returns the same grants and creates none.
  repeatable: true,
  input: EnableModelsInput,
  payload: EnableModelsPayload,
  resolve: (input, ctx, op) => {
    const { target, catalogIds } = bulkTarget(input, 1);
    return bulk.enableModels(ctx, op, target, catalogIds);
  },
});

const DisableModelsInput = builder.inputType('DisableModelsInput', {
  description: '(v2) Removes the grants of these entries at one level; entries without a grant there are ignored.',
  fields: (t) => ({
    catalogEntryIds: t.idList({ required: true, ...bounded({ maxItems: MAX_BULK_IDS }, '1 to 5000 entries; repeated ids count once.') }),
    workspaceId: t.id({ description: 'Absent or null: organization-level grants.' }),
  }),
});
const DisableModelsPayload = builder.objectRef<{ deletedIds: string[] }>('DisableModelsPayload').implement({
  fields: (t) => ({
    deletedIds: t.idList({
      description: 'Global IDs of the ModelAccess objects this call removed.',
      resolve: (payload) => payload.deletedIds.map((id) => encodeGlobalId('ModelAccess', id)),
    }),
  }),
});
defineMutation('disableModels', {
  access: access(['agent:delete']),
  audit: { resourceType: 'agent_model_access', action: 'delete' },
  // A repeat finds nothing left to remove and answers an empty list.
  repeatable: true,
  input: DisableModelsInput,
  payload: DisableModelsPayload,
  resolve: (input, ctx, op) => {
    const { target, catalogIds } = bulkTarget(input, 1);
    return bulk.disableModels(ctx, op, target, catalogIds);
  },
});

const ReplaceModelAccessInput = builder.inputType('ReplaceModelAccessInput', {
  description: '(v2) Makes the grants at one level exactly this set, atomically.',
  fields: (t) => ({
    catalogEntryIds: t.idList({
      required: true,
      ...bounded(
        { maxItems: MAX_BULK_IDS },
        "0 to 5000 entries; repeated ids count once. For a workspace an empty list removes its override: it inherits the organization's grants again.",
      ),
    }),
    workspaceId: t.id({ description: 'Absent or null: the organization-level grants.' }),
  }),
});
const ReplaceModelAccessPayload = builder
  .objectRef<{ modelAccesses: AgentModelAccess[]; createdCount: number; deletedCount: number }>('ReplaceModelAccessPayload')
  .implement({
    fields: (t) => ({
      modelAccesses: t.field({
        type: [ModelAccessRef],
        description: 'The grants at that level after the call, in the order first requested.',
        resolve: (payload) => payload.modelAccesses,
      }),
      createdCount: t.exposeInt('createdCount'),
      deletedCount: t.exposeInt('deletedCount'),
    }),
  });
defineMutation('replaceModelAccess', {
  access: access(['agent:create', 'agent:delete']),
  audit: { resourceType: 'agent_model_access', action: 'update' },
  // Declarative: a repeat sets the same set again and changes nothing.
  repeatable: true,
  input: ReplaceModelAccessInput,
  payload: ReplaceModelAccessPayload,
  resolve: (input, ctx, op) => {
    const { target, catalogIds } = bulkTarget(input, 0);
    return bulk.replaceModelAccess(ctx, op, target, catalogIds);
  },
});
