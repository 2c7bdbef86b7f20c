import { builder, access, encodeGlobalId, parseId, NOT_CACHED } from '../../graphql/builder.ts';
import { connectionOf } from '../../graphql/connections.ts';
import { defineMutation, deletePayload } from '../../graphql/mutation.ts';
import { bounded } from '../../graphql/input-bounds.ts';
import type { AgentModelAlias } from '../../generated/prisma/client.ts';
import { CatalogEntryRef } from '../catalog/schema.ts';
import { WorkspaceRef } from '../tenancy/schema.ts';
import { ResolvedModelConfigRef } from '../runtime/schema.ts';
import { auditRefusedCredentialsRead } from '../runtime/service.ts';
import { AccessLevelEnum } from './types.ts';
import { workspaceLoader } from './loaders.ts';
import { assertOwnWorkspace } from './effective.ts';
import * as aliases from './aliases.ts';

export const ModelAliasRef = builder.prismaNode('AgentModelAlias', {
  name: 'ModelAlias',
  description: '(v3) A name for an ordered list of catalog entries: the first usable one is the model to use, the rest its fallbacks.',
  id: { field: 'id' },
  // node() answers null for an unknown or foreign alias instead of failing.
  nullable: true,
  findUnique: (id, ctx) => ({ id, organizationId: ctx.db.organizationId }),
  fields: (t) => ({
    databaseId: t.expose('id', { type: 'UUID' }),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    level: t.field({
      type: AccessLevelEnum,
      description: "ORGANIZATION, or WORKSPACE for an alias that overrides the organization's of the same name in one workspace.",
      resolve: (alias) => (alias.workspaceId === null ? 'ORGANIZATION' : 'WORKSPACE'),
    }),
    workspace: t.field({
      type: WorkspaceRef,
      nullable: true,
      resolve: (alias, _args, ctx) => (alias.workspaceId ? workspaceLoader(ctx).load(alias.workspaceId) : null),
    }),
    targets: t.field({
      type: [CatalogEntryRef],
      description: 'In order of preference.',
      resolve: (alias, _args, ctx) => aliases.aliasTargetsLoader(ctx).load(alias.id),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const ModelAliasConnection = connectionOf(ModelAliasRef, 'ModelAlias');

const ResolvedModelRouteRef = builder.objectRef<aliases.ResolvedModelRoute>('ResolvedModelRoute').implement({
  description: '(v3) What an alias resolves to in one workspace (or the organization).',
  fields: (t) => ({
    alias: t.field({ type: ModelAliasRef, resolve: (route) => route.alias }),
    configs: t.field({
      type: [ResolvedModelConfigRef],
      description: "The runtime configurations of the targets that may be used there, in the alias's order: the first to use, then the fallbacks.",
      resolve: (route) => route.configs,
    }),
    skipped: t.field({
      type: [CatalogEntryRef],
      description: 'The targets that may not be used there, in order.',
      resolve: (route) => route.skipped,
    }),
  }),
});

builder.objectField(WorkspaceRef, 'modelAliases', (t) =>
  t.connection(
    {
      type: ModelAliasRef,
      description: "(v3) The aliases this workspace resolves: its own and the organization's it does not override, by name.",
      resolve: (workspace, args, ctx) => {
        assertOwnWorkspace(ctx, workspace.id);
        return aliases.listAliases(ctx, args, workspace.id);
      },
    },
    ModelAliasConnection,
  ),
);

const workspaceArgument = (value: string | null | undefined, argument: string) =>
  value == null ? null : parseId(value, 'Workspace', argument);

builder.queryFields((t) => ({
  modelAliases: t.connection(
    {
      type: ModelAliasRef,
      description: "(v3) Without a workspace, the organization's aliases; with one, what that workspace resolves.",
      ...access(['agent:read'], { workspaceTokens: true }),
      args: { workspaceId: t.arg.id({ description: "Absent: the organization's aliases (a workspace-bound token: its own workspace's view)." }) },
      resolve: (_root, args, ctx) => aliases.listAliasesFor(ctx, args, workspaceArgument(args.workspaceId, 'workspaceId')),
    },
    ModelAliasConnection,
  ),
  resolveModelAlias: t.field({
    type: ResolvedModelRouteRef,
    description:
      "(v3) The workspace's alias of that name, else the organization's, with the runtime configurations of the targets the " +
      'workspace (or, without workspaceId, the organization) may use. A workspace-bound token may only ask for its own workspace. ' +
      'Every call is audited, as a read of credentials.',
    ...access(['agent:read', 'agent:credentials:read'], { workspaceTokens: true }),
    // Not cached: it holds secrets and every call writes an audit record.
    ...NOT_CACHED,
    args: {
      name: t.arg.string({ required: true }),
      workspaceId: t.arg.id(),
    },
    unauthorizedResolver: async (_root, _args, ctx, _info, error) => {
      await auditRefusedCredentialsRead(ctx, error);
      throw error;
    },
    resolve: (_root, args, ctx) =>
      aliases.resolveAlias(ctx, () => ({
        name: aliases.parseAliasName(args.name, 'name'),
        workspaceId: workspaceArgument(args.workspaceId, 'workspaceId'),
      })),
  }),
}));

const SetModelAliasInput = builder.inputType('SetModelAliasInput', {
  description: '(v3) Creates the alias, or replaces its targets and description.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Matches ^[a-z0-9][a-z0-9._-]{0,62}$.' }),
    targetIds: t.idList({
      required: true,
      ...bounded({ maxItems: aliases.MAX_ALIAS_TARGETS }, 'Catalog entries in order of preference: 1 to 10, each at most once; they need no grant.'),
    }),
    workspaceId: t.id({ description: "Absent or null: the organization's alias. Given: that workspace's, which overrides it there." }),
    description: t.string({ ...bounded({ maxLength: aliases.MAX_ALIAS_DESCRIPTION }) }),
  }),
});
const SetModelAliasPayload = builder.objectRef<{ modelAlias: AgentModelAlias }>('SetModelAliasPayload').implement({
  fields: (t) => ({ modelAlias: t.field({ type: ModelAliasRef, resolve: (payload) => payload.modelAlias }) }),
});
defineMutation('setModelAlias', {
  description: '(v3)',
  access: access(['agent:update']),
  // Recorded as create when the call made the alias.
  audit: { resourceType: 'agent_model_alias', action: 'update' },
  // Declarative: a repeat stores the same alias again and changes nothing.
  repeatable: true,
  input: SetModelAliasInput,
  payload: SetModelAliasPayload,
  resolve: async (input, ctx, op) => {
    const name = aliases.parseAliasName(input.name, 'input.name');
    const targetIds = aliases.parseAliasTargets(input.targetIds, 'input.targetIds');
    const workspaceId = workspaceArgument(input.workspaceId, 'input.workspaceId');
    const modelAlias = await aliases.setAlias(ctx, op, { name, targetIds, workspaceId, description: input.description ?? null });
    return { modelAlias };
  },
});

const DeleteModelAliasInput = builder.inputType('DeleteModelAliasInput', {
  description: '(v3)',
  fields: (t) => ({
    name: t.string({ required: true }),
    workspaceId: t.id({ description: "Absent or null: the organization's alias. Given: that workspace's own." }),
  }),
});
const DeleteModelAliasPayload = deletePayload('DeleteModelAliasPayload');
defineMutation('deleteModelAlias', {
  description: '(v3)',
  access: access(['agent:update']),
  audit: { resourceType: 'agent_model_alias', action: 'delete' },
  // A repeat finds nothing and answers NOT_FOUND.
  repeatable: true,
  input: DeleteModelAliasInput,
  payload: DeleteModelAliasPayload,
  resolve: async (input, ctx, op) => {
    const name = aliases.parseAliasName(input.name, 'input.name');
    const workspaceId = workspaceArgument(input.workspaceId, 'input.workspaceId');
    const id = await aliases.deleteAlias(ctx, op, name, workspaceId);
    return { deletedId: encodeGlobalId('ModelAlias', id) };
  },
});
