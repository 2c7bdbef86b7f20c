import type { Context } from '../../graphql/context.ts';
import type { AuditedOperation } from '../audit/record.ts';
import { notFound } from '../../graphql/errors.ts';
import { paginate, type ConnectionArgs, newestFirst } from '../../graphql/pagination.ts';
import { requiredText } from '../../graphql/validation.ts';
import type { Organization, Workspace } from '../../generated/prisma/client.ts';

export const NAME_MAX = 200;

export const workspaceOrdering = newestFirst<Workspace>('workspace:created');

export function listWorkspaces(ctx: Context, args: ConnectionArgs) {
  const filter = { organizationId: ctx.db.organizationId };
  return paginate(
    workspaceOrdering,
    args,
    filter,
    (query) => ctx.db.transaction((tx) => tx.workspace.findMany(query)),
    (query) => ctx.db.transaction((tx) => tx.workspace.count(query)),
  );
}

export async function viewerOrganization(ctx: Context): Promise<Organization | null> {
  const organizationId = ctx.principal.organizationId;
  if (!organizationId) return null;
  return ctx.db.transaction((tx) => tx.organization.findUnique({ where: { id: organizationId } }));
}

export async function createOrganization(_ctx: Context, op: AuditedOperation, input: { name: string }) {
  const name = requiredText(input.name, 'name', NAME_MAX);
  return op.commit(async (tx) => {
    const organization = await tx.organization.create({ data: { name } });
    op.resourceId = organization.id;
    op.organizationId = organization.id;
    return organization;
  });
}

export async function createWorkspace(ctx: Context, op: AuditedOperation, input: { name: string }) {
  const name = requiredText(input.name, 'name', NAME_MAX);
  const organizationId = ctx.db.organizationId;
  return op.commit(async (tx) => {
    const workspace = await tx.workspace.create({ data: { name, organizationId } });
    op.resourceId = workspace.id;
    op.workspaceId = workspace.id;
    return workspace;
  });
}

export async function deleteWorkspace(ctx: Context, op: AuditedOperation, workspaceId: string) {
  const organizationId = ctx.db.organizationId;
  op.resourceId = workspaceId;
  op.workspaceId = workspaceId;
  await op.commit(async (tx) => {
    const { count } = await tx.workspace.deleteMany({ where: { id: workspaceId, organizationId } });
    if (count === 0) throw notFound('Workspace');
  });
  ctx.services.tenants.forgetWorkspace(organizationId, workspaceId);
}
