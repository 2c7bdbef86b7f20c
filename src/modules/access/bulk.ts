import type { Context } from '../../graphql/context.ts';
import { Prisma, type AgentModelAccess } from '../../generated/prisma/client.ts';
import { parseId } from '../../graphql/builder.ts';
import { badInput, isForeignKeyViolation, notFound } from '../../graphql/errors.ts';
import { hasSqlState } from '../../db/failures.ts';
import type { Tx } from '../../db/scope.ts';
import type { AuditedOperation } from '../audit/record.ts';

/** Most catalog entry ids one bulk call takes (repeats included). */
export const MAX_BULK_IDS = 5000;

/** The grants of one level: the organization's (workspaceId null) or one workspace's own. */
export interface AccessLevelTarget {
  workspaceId: string | null;
}

/**
 * The distinct catalog entry UUIDs of `globalIds`, in the order first given; an id of
 * another type is BAD_USER_INPUT naming its position. The bound on the list's length
 * is checked before execution (input bounds); the minimum here.
 */
export function parseCatalogEntryIds(globalIds: readonly string[], argument: string, minimum: 0 | 1): string[] {
  if (globalIds.length < minimum) throw badInput(argument, `at least ${minimum} item`);
  const ids = new Set<string>();
  globalIds.forEach((globalId, index) => ids.add(parseId(globalId, 'CatalogEntry', `${argument}[${index}]`)));
  return [...ids];
}

const levelCondition = (workspaceId: string | null) =>
  workspaceId ? Prisma.sql`workspace_id = ${workspaceId}::uuid` : Prisma.sql`workspace_id IS NULL`;

/**
 * Serializes the bulk changes of one level (until the transaction ends), so that
 * concurrent replacements end in one caller's set rather than a mix of several.
 */
async function lockLevel(tx: Tx, organizationId: string, workspaceId: string | null): Promise<void> {
  const key = `model-access:${organizationId}:${workspaceId ?? 'organization'}`;
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`;
}

/**
 * Locks the level, then checks, in one statement each, that the workspace (if any)
 * belongs to the organization and that every entry is visible to it: NOT_FOUND for
 * the whole call otherwise, before anything is written.
 */
async function prepareLevel(tx: Tx, organizationId: string, workspaceId: string | null, catalogIds: string[]): Promise<void> {
  await lockLevel(tx, organizationId, workspaceId);
  if (workspaceId) {
    const workspace = await tx.workspace.findFirst({ where: { id: workspaceId, organizationId }, select: { id: true } });
    if (!workspace) throw notFound('Workspace');
  }
  if (catalogIds.length === 0) return;
  const [row] = await tx.$queryRaw<{ visible: number }[]>`
    SELECT count(*)::int AS visible FROM agent_catalog
    WHERE id = ANY(${catalogIds}::uuid[]) AND (organization_id IS NULL OR organization_id = ${organizationId}::uuid)`;
  if (row!.visible !== catalogIds.length) throw notFound('CatalogEntry');
}

/** Grants every entry at the level that lacks one; returns how many it created. */
async function insertGrants(tx: Tx, organizationId: string, workspaceId: string | null, catalogIds: string[]): Promise<number> {
  if (catalogIds.length === 0) return 0;
  try {
    return await tx.$executeRaw`
      INSERT INTO agent_model_access (organization_id, workspace_id, catalog_id)
      SELECT ${organizationId}::uuid, ${workspaceId}::uuid, requested.id FROM unnest(${catalogIds}::uuid[]) AS requested(id)
      ON CONFLICT (organization_id, workspace_id, catalog_id) DO NOTHING`;
  } catch (error) {
    if (referencesVanished(error)) throw notFound(workspaceId ? 'CatalogEntry or Workspace' : 'CatalogEntry');
    throw error;
  }
}

/**
 * An entry or workspace deleted since the checks: the grant's foreign key, or its row
 * check (RLS, which looks the entry up: SQLSTATE 42501), then refuses the insert.
 */
function referencesVanished(error: unknown): boolean {
  return isForeignKeyViolation(error) || hasSqlState(error, '42501');
}

/** The level's grants of these entries, in the order of `catalogIds`. */
async function grantsOf(tx: Tx, organizationId: string, workspaceId: string | null, catalogIds: string[]): Promise<AgentModelAccess[]> {
  if (catalogIds.length === 0) return [];
  const rows = await tx.agentModelAccess.findMany({ where: { organizationId, workspaceId, catalogId: { in: catalogIds } } });
  return inRequestedOrder(rows, catalogIds);
}

function inRequestedOrder<T extends { catalogId: string }>(rows: T[], catalogIds: string[]): T[] {
  const position = new Map(catalogIds.map((id, index) => [id, index]));
  return rows.sort((a, b) => position.get(a.catalogId)! - position.get(b.catalogId)!);
}

/**
 * Grants many entries at one level, all or nothing. Idempotent: entries granted
 * already keep their grant, which is returned with the new ones.
 */
export async function enableModels(ctx: Context, op: AuditedOperation, target: AccessLevelTarget, catalogIds: string[]) {
  const organizationId = ctx.db.organizationId;
  const { workspaceId } = target;
  op.workspaceId = workspaceId;
  return op.commit(async (tx) => {
    await prepareLevel(tx, organizationId, workspaceId, catalogIds);
    const createdCount = await insertGrants(tx, organizationId, workspaceId, catalogIds);
    return { modelAccesses: await grantsOf(tx, organizationId, workspaceId, catalogIds), createdCount };
  });
}

/** Removes the grants of these entries at one level; entries without one there are ignored. */
export async function disableModels(ctx: Context, op: AuditedOperation, target: AccessLevelTarget, catalogIds: string[]) {
  const organizationId = ctx.db.organizationId;
  const { workspaceId } = target;
  op.workspaceId = workspaceId;
  return op.commit(async (tx) => {
    await prepareLevel(tx, organizationId, workspaceId, catalogIds);
    const deleted = await tx.$queryRaw<{ id: string; catalogId: string }[]>`
      DELETE FROM agent_model_access
      WHERE organization_id = ${organizationId}::uuid AND ${levelCondition(workspaceId)} AND catalog_id = ANY(${catalogIds}::uuid[])
      RETURNING id::text AS id, catalog_id::text AS "catalogId"`;
    return { deletedIds: inRequestedOrder(deleted, catalogIds).map((grant) => grant.id) };
  });
}

/**
 * Makes the grants of one level exactly these entries, atomically: the others are
 * removed, the missing ones created. For a workspace, an empty list removes its
 * override, so that it inherits the organization's grants again.
 */
export async function replaceModelAccess(ctx: Context, op: AuditedOperation, target: AccessLevelTarget, catalogIds: string[]) {
  const organizationId = ctx.db.organizationId;
  const { workspaceId } = target;
  op.workspaceId = workspaceId;
  return op.commit(async (tx) => {
    await prepareLevel(tx, organizationId, workspaceId, catalogIds);
    const deletedCount = await tx.$executeRaw`
      DELETE FROM agent_model_access
      WHERE organization_id = ${organizationId}::uuid AND ${levelCondition(workspaceId)} AND catalog_id <> ALL(${catalogIds}::uuid[])`;
    const createdCount = await insertGrants(tx, organizationId, workspaceId, catalogIds);
    return { modelAccesses: await grantsOf(tx, organizationId, workspaceId, catalogIds), createdCount, deletedCount };
  });
}
