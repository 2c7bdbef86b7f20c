import type { Context } from '../../graphql/context.ts';
import type { AgentModelAccess, Prisma } from '../../generated/prisma/client.ts';
import { conflict, isForeignKeyViolation, notFound } from '../../graphql/errors.ts';
import { paginate, type ConnectionArgs, newestFirst } from '../../graphql/pagination.ts';
import type { AuditedOperation } from '../audit/record.ts';
import { visibleTo } from '../catalog/filter.ts';
import { workspaceLoader } from './loaders.ts';

const grantOrdering = newestFirst<AgentModelAccess>('modelAccess:created');

/** The workspace, which must belong to the caller's organization (else NOT_FOUND). */
export async function requireWorkspace(ctx: Context, workspaceId: string) {
  const workspace = await workspaceLoader(ctx).load(workspaceId);
  if (!workspace) throw notFound('Workspace');
  return workspace;
}

/**
 * Grants a visible catalog entry to the organization (workspaceId null) or to one of
 * its workspaces. An identical grant is CONFLICT: the insert skips duplicates instead
 * of failing (which would abort the transaction), so racing identical calls find
 * exactly one winner and the rest see nothing inserted.
 */
export async function enableModel(
  ctx: Context,
  op: AuditedOperation,
  input: { catalogId: string; workspaceId: string | null },
): Promise<AgentModelAccess> {
  const organizationId = ctx.db.organizationId;
  const { catalogId, workspaceId } = input;
  op.workspaceId = workspaceId;
  return op.commit(async (tx) => {
    const entry = await tx.agentCatalog.findFirst({
      where: { id: catalogId, ...visibleTo(organizationId) },
      select: { id: true },
    });
    if (!entry) throw notFound('CatalogEntry');
    if (workspaceId) {
      const workspace = await tx.workspace.findFirst({ where: { id: workspaceId, organizationId }, select: { id: true } });
      if (!workspace) throw notFound('Workspace');
    }
    let inserted: AgentModelAccess[];
    try {
      inserted = await tx.agentModelAccess.createManyAndReturn({
        data: [{ organizationId, workspaceId, catalogId }],
        skipDuplicates: true,
      });
    } catch (error) {
      // The entry or workspace was deleted after the checks above.
      if (isForeignKeyViolation(error)) throw notFound(workspaceId ? 'CatalogEntry or Workspace' : 'CatalogEntry');
      throw error;
    }
    const grant = inserted[0];
    if (!grant) {
      throw conflict(`the model is already enabled for ${workspaceId ? 'this workspace' : 'the organization'}`);
    }
    op.resourceId = grant.id;
    return grant;
  });
}

/** Removes one of the organization's grants. */
export async function disableModel(ctx: Context, op: AuditedOperation, grantId: string): Promise<void> {
  const organizationId = ctx.db.organizationId;
  op.resourceId = grantId;
  await op.commit(async (tx) => {
    const grant = await tx.agentModelAccess.findFirst({ where: { id: grantId, organizationId } });
    if (!grant) throw notFound('ModelAccess');
    op.workspaceId = grant.workspaceId;
    // A concurrent disable may have removed it since: deleteMany reports that as 0 rows.
    const { count } = await tx.agentModelAccess.deleteMany({ where: { id: grant.id, organizationId } });
    if (count === 0) throw notFound('ModelAccess');
  });
}

/** Without a workspace every grant of the organization; with one, that workspace's own grants. */
export async function listGrants(ctx: Context, args: ConnectionArgs, workspaceId: string | null) {
  const organizationId = ctx.db.organizationId;
  if (workspaceId) await requireWorkspace(ctx, workspaceId);
  const filter: Prisma.AgentModelAccessWhereInput = {
    organizationId,
    ...(workspaceId ? { workspaceId } : {}),
    catalogEntry: visibleTo(organizationId),
  };
  return paginate(
    grantOrdering,
    args,
    filter,
    (query) => ctx.db.transaction((tx) => tx.agentModelAccess.findMany(query)),
    (query) => ctx.db.transaction((tx) => tx.agentModelAccess.count(query)),
  );
}
