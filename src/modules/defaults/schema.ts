import { builder, access, parseId } from '../../graphql/builder.ts';
import { defineMutation } from '../../graphql/mutation.ts';
import type { Context } from '../../graphql/context.ts';
import { CatalogEntryRef } from '../catalog/schema.ts';
import { WorkspaceRef } from '../tenancy/schema.ts';
import { AccessLevelEnum } from '../access/types.ts';
import { assertOwnWorkspace } from '../access/effective.ts';
import { requireWorkspace } from '../access/service.ts';
import * as defaults from './service.ts';

const DefaultModelSourceEnum = builder.enumType('DefaultModelSource', {
  values: {
    CATALOG_ID: { description: 'Resolved from the stored catalog entry id.' },
    LEGACY_MODEL_NAME: { description: 'Resolved from a legacy default stored by model name only.' },
  } as const,
});

const DefaultModelSelectionRef = builder.objectRef<defaults.DefaultModelSelection>('DefaultModelSelection').implement({
  fields: (t) => ({
    catalogEntry: t.field({ type: CatalogEntryRef, resolve: (selection) => selection.entry }),
    catalogId: t.field({ type: 'UUID', resolve: (selection) => selection.entry.id }),
    modelProvider: t.string({ resolve: (selection) => selection.entry.modelProvider }),
    modelName: t.string({ resolve: (selection) => selection.entry.modelName }),
    customProviderId: t.field({
      type: 'UUID',
      nullable: true,
      resolve: (selection) => selection.entry.customProviderId,
    }),
    source: t.field({ type: DefaultModelSourceEnum, resolve: (selection) => selection.source }),
    level: t.field({
      type: AccessLevelEnum,
      description: "(v2) Whose default this is: the organization's, or the workspace's own.",
      resolve: (selection) => selection.level,
    }),
  }),
});

/** A workspace's default, for a workspace of the caller's organization (a workspace-bound token: its own only). */
async function workspaceDefault(ctx: Context, workspaceId: string) {
  assertOwnWorkspace(ctx, workspaceId);
  await requireWorkspace(ctx, workspaceId);
  return defaults.workspaceDefaultLoader(ctx).load(workspaceId);
}

builder.objectField(WorkspaceRef, 'defaultModelSelection', (t) =>
  t.field({
    type: DefaultModelSelectionRef,
    nullable: true,
    description:
      "(v2) The default model for this workspace: its own default while still effective for it; without one, the organization's default if the workspace may use it; else null.",
    resolve: (workspace, _args, ctx) => {
      assertOwnWorkspace(ctx, workspace.id);
      return defaults.workspaceDefaultLoader(ctx).load(workspace.id);
    },
  }),
);

builder.queryField('defaultModelSelection', (t) =>
  t.field({
    type: DefaultModelSelectionRef,
    nullable: true,
    description:
      "The organization's default; (v2) with workspaceId, or for a workspace-bound token, that workspace's (see Workspace.defaultModelSelection).",
    ...access(['agent:read'], { workspaceTokens: true }),
    args: { workspaceId: t.arg.id() },
    resolve: (_root, args, ctx) => {
      const workspaceId = args.workspaceId == null ? ctx.principal.workspaceId : parseId(args.workspaceId, 'Workspace', 'workspaceId');
      return workspaceId ? workspaceDefault(ctx, workspaceId) : defaults.organizationDefault(ctx);
    },
  }),
);

const SetDefaultModelInput = builder.inputType('SetDefaultModelInput', {
  fields: (t) => ({
    catalogEntryId: t.id({ required: true }),
    workspaceId: t.id({
      description:
        "(v2) Absent or null: the organization's default (the entry needs an organization-level grant). Given: that workspace's own default (the entry must be one of its effective models).",
    }),
  }),
});
const SetDefaultModelPayload = builder
  .objectRef<{ defaultModelSelection: defaults.DefaultModelSelection }>('SetDefaultModelPayload')
  .implement({
    fields: (t) => ({
      defaultModelSelection: t.field({ type: DefaultModelSelectionRef, resolve: (payload) => payload.defaultModelSelection }),
    }),
  });
defineMutation('setDefaultModel', {
  access: access(['agent:update']),
  audit: { resourceType: 'agent_default_model', action: 'update' },
  repeatable: true,
  input: SetDefaultModelInput,
  payload: SetDefaultModelPayload,
  resolve: async (input, ctx, op) => {
    const catalogId = parseId(input.catalogEntryId, 'CatalogEntry', 'input.catalogEntryId');
    const workspaceId = input.workspaceId == null ? null : parseId(input.workspaceId, 'Workspace', 'input.workspaceId');
    return { defaultModelSelection: await defaults.setDefaultModel(ctx, op, { catalogId, workspaceId }) };
  },
});

const ClearDefaultModelInput = builder.inputType('ClearDefaultModelInput', {
  description: '(v2)',
  fields: (t) => ({
    workspaceId: t.id({
      description:
        "Absent or null: clears the organization's default. Given: removes that workspace's own default, so the organization's applies again.",
    }),
  }),
});
const ClearDefaultModelPayload = builder.objectRef<{ cleared: boolean }>('ClearDefaultModelPayload').implement({
  fields: (t) => ({ cleared: t.exposeBoolean('cleared', { description: 'True when a default was stored and is now removed.' }) }),
});
defineMutation('clearDefaultModel', {
  access: access(['agent:update']),
  audit: { resourceType: 'agent_default_model', action: 'delete' },
  // A repeat finds nothing stored and answers cleared: false.
  repeatable: true,
  input: ClearDefaultModelInput,
  payload: ClearDefaultModelPayload,
  resolve: async (input, ctx, op) => {
    const workspaceId = input.workspaceId == null ? null : parseId(input.workspaceId, 'Workspace', 'input.workspaceId');
    return { cleared: await defaults.clearDefaultModel(ctx, op, workspaceId) };
  },
});
