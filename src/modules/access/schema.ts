import { builder, access, encodeGlobalId, parseId } from '../../graphql/builder.ts';
import { defineMutation, deletePayload } from '../../graphql/mutation.ts';
import type { AgentModelAccess } from '../../generated/prisma/client.ts';
import { CatalogEntryConnection, CatalogEntryFilterInput, CatalogEntryRef } from '../catalog/schema.ts';
import { WorkspaceRef } from '../tenancy/schema.ts';
import { ModelAccessConnection, ModelAccessRef } from './types.ts';
import { accessOverrideLoader } from './loaders.ts';
import { assertOwnWorkspace, effectiveModelsConnection } from './effective.ts';
import * as grants from './service.ts';

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
