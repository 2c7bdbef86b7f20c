import { builder, access, encodeGlobalId, parseId, NOT_CACHED } from '../../graphql/builder.ts';
import { connectionOf } from '../../graphql/connections.ts';
import { defineMutation, deletePayload } from '../../graphql/mutation.ts';
import type { Organization, Workspace } from '../../generated/prisma/client.ts';
import * as tenancy from './service.ts';

export const ActorTypeEnum = builder.enumType('ActorType', { values: ['USER', 'SERVICE'] as const });

export const OrganizationRef = builder.prismaNode('Organization', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, AND: [{ id: ctx.db.organizationId }] }),
  // node() answers null for an unknown or foreign id instead of failing.
  nullable: true,
  fields: (t) => ({
    databaseId: t.expose('id', { type: 'UUID' }),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const WorkspaceRef = builder.prismaNode('Workspace', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, organizationId: ctx.db.organizationId }),
  // node() answers null for an unknown or foreign id instead of failing.
  nullable: true,
  fields: (t) => ({
    databaseId: t.expose('id', { type: 'UUID' }),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const WorkspaceConnection = connectionOf(WorkspaceRef, 'Workspace');

const Viewer = builder.objectRef<{ kind: 'viewer' }>('Viewer').implement({
  fields: (t) => ({
    subject: t.string({ resolve: (_v, _a, ctx) => ctx.principal.subject }),
    actorType: t.field({ type: ActorTypeEnum, resolve: (_v, _a, ctx) => ctx.principal.actorType }),
    organization: t.field({
      type: OrganizationRef,
      nullable: true,
      // Not cached: organizations make no change events (they are renamed only outside the API).
      ...NOT_CACHED,
      resolve: (_v, _a, ctx) => tenancy.viewerOrganization(ctx),
    }),
    workspaceId: t.field({ type: 'UUID', nullable: true, resolve: (_v, _a, ctx) => ctx.principal.workspaceId }),
    scopes: t.stringList({ resolve: (_v, _a, ctx) => [...ctx.principal.scopes] }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: Viewer,
    ...access([], { workspaceTokens: true }),
    resolve: () => ({ kind: 'viewer' as const }),
  }),
  workspaces: t.connection(
    {
      type: WorkspaceRef,
      ...access(['agent:read']),
      resolve: (_root, args, ctx) => tenancy.listWorkspaces(ctx, args),
    },
    WorkspaceConnection,
  ),
}));

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  fields: (t) => ({ name: t.string({ required: true }) }),
});
const CreateOrganizationPayload = builder.objectRef<{ organization: Organization }>('CreateOrganizationPayload').implement({
  fields: (t) => ({ organization: t.field({ type: OrganizationRef, resolve: (p) => p.organization }) }),
});
defineMutation('createOrganization', {
  access: access(['platform:admin']),
  audit: { resourceType: 'organization', action: 'create', platform: true },
  // Organizations have no unique name: a second create makes a second one.
  repeatable: false,
  input: CreateOrganizationInput,
  payload: CreateOrganizationPayload,
  resolve: async (input, ctx, op) => ({ organization: await tenancy.createOrganization(ctx, op, input) }),
});

const CreateWorkspaceInput = builder.inputType('CreateWorkspaceInput', {
  fields: (t) => ({ name: t.string({ required: true }) }),
});
const CreateWorkspacePayload = builder.objectRef<{ workspace: Workspace }>('CreateWorkspacePayload').implement({
  fields: (t) => ({ workspace: t.field({ type: WorkspaceRef, resolve: (p) => p.workspace }) }),
});
defineMutation('createWorkspace', {
  access: access(['workspace:create']),
  audit: { resourceType: 'workspace', action: 'create' },
  // Workspaces have no unique name: a second create makes a second one.
  repeatable: false,
  input: CreateWorkspaceInput,
  payload: CreateWorkspacePayload,
  resolve: async (input, ctx, op) => ({ workspace: await tenancy.createWorkspace(ctx, op, input) }),
});

const DeleteWorkspaceInput = builder.inputType('DeleteWorkspaceInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});
const DeleteWorkspacePayload = deletePayload('DeleteWorkspacePayload');
defineMutation('deleteWorkspace', {
  access: access(['workspace:delete']),
  audit: { resourceType: 'workspace', action: 'delete' },
  repeatable: true,
  input: DeleteWorkspaceInput,
  payload: DeleteWorkspacePayload,
  resolve: async (input, ctx, op) => {
    const id = parseId(input.id, 'Workspace', 'id');
    await tenancy.deleteWorkspace(ctx, op, id);
    return { deletedId: encodeGlobalId('Workspace', id) };
  },
});
