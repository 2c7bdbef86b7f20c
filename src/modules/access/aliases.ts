import { loader, type Context } from '../../graphql/context.ts';
import type { AgentCatalog, AgentModelAlias, Prisma } from '../../generated/prisma/client.ts';
import { parseId } from '../../graphql/builder.ts';
import { badInput, notFound } from '../../graphql/errors.ts';
import { paginate, type ConnectionArgs, type Ordering } from '../../graphql/pagination.ts';
import type { Tx } from '../../db/scope.ts';
import { AuditedOperation } from '../audit/record.ts';
import { visibleTo } from '../catalog/filter.ts';
import { runtimeConfigs, type ResolvedModelConfig } from '../runtime/service.ts';
import { assertOwnWorkspace, availableModelsWhere } from './effective.ts';
import { requireWorkspace } from './service.ts';

/** SPEC §18: what an alias's name may be. */
export const ALIAS_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const MAX_ALIAS_TARGETS = 10;
export const MAX_ALIAS_DESCRIPTION = 500;
/** Aliases of one organization, all levels together. */
export const MAX_ALIASES_PER_ORGANIZATION = 1_000;

/** The alias name argument: BAD_USER_INPUT unless it follows the rule (such a name cannot exist). */
export function parseAliasName(name: string, argument: string): string {
  if (!ALIAS_NAME_PATTERN.test(name)) {
    throw badInput(argument, 'must be 1 to 63 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit');
  }
  return name;
}

/** The targets argument: 1 to 10 distinct catalog entries, in order (more than 10 is refused before execution). */
export function parseAliasTargets(globalIds: readonly string[], argument: string): string[] {
  if (globalIds.length === 0) throw badInput(argument, `give 1 to ${MAX_ALIAS_TARGETS} catalog entries`);
  const ids = globalIds.map((globalId, index) => parseId(globalId, 'CatalogEntry', `${argument}[${index}]`));
  const repeated = ids.findIndex((id, index) => ids.indexOf(id) !== index);
  if (repeated >= 0) throw badInput(`${argument}[${repeated}]`, 'repeats an earlier target; each entry may appear once');
  return ids;
}

const aliasOrdering: Ordering<AgentModelAlias> = {
  name: 'modelAlias:name',
  keys: [
    { field: 'name', direction: 'asc', kind: 'string' },
    { field: 'id', direction: 'asc', kind: 'string' },
  ],
};

/** Aliases a caller may see: its organization's, and for a workspace-bound token only those of no workspace or its own. */
function visibleAliases(ctx: Context): Prisma.AgentModelAliasWhereInput {
  const bound = ctx.principal.workspaceId;
  return { organizationId: ctx.db.organizationId, ...(bound ? { OR: [{ workspaceId: null }, { workspaceId: bound }] } : {}) };
}

/** Aliases by id as the caller may see them, batched per request (change-feed subjects). */
export function modelAliasLoader(ctx: Context) {
  return loader<string, AgentModelAlias | null>(ctx, 'modelAliasById', async (ids) => {
    const rows = await ctx.db.transaction((tx) => tx.agentModelAlias.findMany({ where: { id: { in: [...ids] }, ...visibleAliases(ctx) } }));
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** The targets of aliases, in order, batched per request. */
export function aliasTargetsLoader(ctx: Context) {
  return loader<string, AgentCatalog[]>(ctx, 'modelAliasTargets', async (aliasIds) => {
    const rows = await ctx.db.transaction((tx) =>
      tx.agentModelAliasTarget.findMany({
        where: { aliasId: { in: [...aliasIds] }, organizationId: ctx.db.organizationId },
        orderBy: [{ aliasId: 'asc' }, { position: 'asc' }],
        include: { catalogEntry: true },
      }),
    );
    const byAlias = new Map<string, AgentCatalog[]>(aliasIds.map((id) => [id, []]));
    for (const row of rows) byAlias.get(row.aliasId)!.push(row.catalogEntry);
    return aliasIds.map((id) => byAlias.get(id)!);
  });
}

/**
 * Without a workspace the organization's aliases; with one, the workspace's own and the
 * organization's it does not override. Ordered by name (unique within either view).
 */
export async function listAliases(ctx: Context, args: ConnectionArgs, workspaceId: string | null) {
  const organizationId = ctx.db.organizationId;
  let filter: Prisma.AgentModelAliasWhereInput = { organizationId, workspaceId: null };
  if (workspaceId) {
    const own = await ctx.db.transaction((tx) =>
      tx.agentModelAlias.findMany({ where: { organizationId, workspaceId }, select: { name: true } }),
    );
    filter = {
      organizationId,
      OR: [{ workspaceId }, { workspaceId: null, ...(own.length > 0 ? { name: { notIn: own.map((alias) => alias.name) } } : {}) }],
    };
  }
  return paginate(
    aliasOrdering,
    args,
    filter as Record<string, unknown>,
    (query) => ctx.db.transaction((tx) => tx.agentModelAlias.findMany(query)),
    (query) => ctx.db.transaction((tx) => tx.agentModelAlias.count(query)),
  );
}

/** `modelAliases(workspaceId)`: no workspace means the bound token's own; another organization's → NOT_FOUND. */
export async function listAliasesFor(ctx: Context, args: ConnectionArgs, requested: string | null) {
  const workspaceId = requested ?? ctx.principal.workspaceId;
  if (workspaceId) {
    assertOwnWorkspace(ctx, workspaceId);
    await requireWorkspace(ctx, workspaceId);
  }
  return listAliases(ctx, args, workspaceId);
}

/**
 * Serializes the alias writes of one organization until the transaction ends, so that
 * the limit on their number holds under concurrent creates and racing identical
 * creates find the one alias the first made.
 */
async function lockAliases(tx: Tx, organizationId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`model-alias:${organizationId}`}, 0))`;
}

export interface SetAliasInput {
  name: string;
  targetIds: string[];
  workspaceId: string | null;
  description: string | null;
}

/**
 * Creates or replaces an alias (targets and description). Every target must be visible
 * to the organization and the workspace belong to it (NOT_FOUND, nothing stored);
 * targets need no grant. A replacement identical to what is stored writes nothing.
 */
export async function setAlias(ctx: Context, op: AuditedOperation, input: SetAliasInput): Promise<AgentModelAlias> {
  const organizationId = ctx.db.organizationId;
  const { name, targetIds, workspaceId, description } = input;
  op.workspaceId = workspaceId;
  return op.commit(async (tx) => {
    await lockAliases(tx, organizationId);
    if (workspaceId) {
      const workspace = await tx.workspace.findFirst({ where: { id: workspaceId, organizationId }, select: { id: true } });
      if (!workspace) throw notFound('Workspace');
    }
    const entries = await tx.agentCatalog.findMany({ where: { id: { in: targetIds }, ...visibleTo(organizationId) } });
    if (entries.length !== targetIds.length) throw notFound('CatalogEntry');
    const byId = new Map(entries.map((entry) => [entry.id, entry]));
    const targets = targetIds.map((catalogId, position) => ({ organizationId, catalogId, position }));

    const existing = await tx.agentModelAlias.findFirst({
      where: { organizationId, workspaceId, name },
      include: { targets: { orderBy: { position: 'asc' }, select: { catalogId: true } } },
    });
    let alias: AgentModelAlias;
    if (!existing) {
      op.action = 'create';
      const count = await tx.agentModelAlias.count({ where: { organizationId } });
      if (count >= MAX_ALIASES_PER_ORGANIZATION) {
        throw badInput('input.name', `an organization has at most ${MAX_ALIASES_PER_ORGANIZATION} aliases, all levels together`, {
          limit: MAX_ALIASES_PER_ORGANIZATION,
        });
      }
      alias = await tx.agentModelAlias.create({ data: { organizationId, workspaceId, name, description } });
      await tx.agentModelAliasTarget.createMany({ data: targets.map((target) => ({ ...target, aliasId: alias.id })) });
    } else {
      op.action = 'update';
      const sameTargets =
        existing.targets.length === targetIds.length && existing.targets.every((target, index) => target.catalogId === targetIds[index]);
      const { targets: _stored, ...row } = existing;
      alias = row;
      if (!sameTargets) {
        await tx.agentModelAliasTarget.deleteMany({ where: { aliasId: existing.id, organizationId } });
        await tx.agentModelAliasTarget.createMany({ data: targets.map((target) => ({ ...target, aliasId: existing.id })) });
      }
      if (!sameTargets || existing.description !== description) {
        alias = await tx.agentModelAlias.update({ where: { id: existing.id }, data: { description } });
      }
    }
    op.resourceId = alias.id;
    aliasTargetsLoader(ctx).prime(alias.id, targetIds.map((id) => byId.get(id)!));
    return alias;
  });
}

/** Removes the alias `name` of the organization, or of the workspace (NOT_FOUND if absent). */
export async function deleteAlias(ctx: Context, op: AuditedOperation, name: string, workspaceId: string | null): Promise<string> {
  const organizationId = ctx.db.organizationId;
  op.workspaceId = workspaceId;
  return op.commit(async (tx) => {
    const alias = await tx.agentModelAlias.findFirst({ where: { organizationId, workspaceId, name }, select: { id: true } });
    if (!alias) throw notFound('ModelAlias');
    op.resourceId = alias.id;
    // A concurrent delete may have removed it since: deleteMany reports that as 0 rows.
    const { count } = await tx.agentModelAlias.deleteMany({ where: { id: alias.id, organizationId } });
    if (count === 0) throw notFound('ModelAlias');
    return alias.id;
  });
}

/** What an alias resolves to: the configurations of its usable targets in order, and those it skipped. */
export interface ResolvedModelRoute {
  alias: AgentModelAlias;
  configs: ResolvedModelConfig[];
  skipped: AgentCatalog[];
}

/**
 * Resolves an alias for a workspace (its own alias of that name, else the
 * organization's) or, without one, for the organization (a workspace-bound token always
 * means its own): the runtime configurations (SPEC §7) of the targets the effective-access
 * rule (§5) lets it use, in the alias's order, and the others as skipped — never another
 * model. A constant number of statements whatever the number of targets. It hands out
 * credentials, so every call is audited as `agent_credentials read` of the alias (the
 * resource id is the alias's), success or failure.
 */
export async function resolveAlias(
  ctx: Context,
  parse: () => { name: string; workspaceId: string | null },
): Promise<ResolvedModelRoute> {
  const op = new AuditedOperation(ctx, { resourceType: 'agent_credentials', action: 'read' });
  try {
    const { name, workspaceId: requested } = parse();
    const workspaceId = requested ?? ctx.principal.workspaceId;
    op.workspaceId = workspaceId;
    if (workspaceId) assertOwnWorkspace(ctx, workspaceId);
    const organizationId = ctx.db.organizationId;

    return await op.commit(async (tx) => {
      if (workspaceId) {
        const workspace = await tx.workspace.findFirst({ where: { id: workspaceId, organizationId }, select: { id: true } });
        if (!workspace) throw notFound('Workspace');
      }
      // The workspace's alias sorts first: NULL (the organization's) last.
      const alias = await tx.agentModelAlias.findFirst({
        where: { organizationId, name, OR: [{ workspaceId: null }, ...(workspaceId ? [{ workspaceId }] : [])] },
        orderBy: { workspaceId: { sort: 'asc', nulls: 'last' } },
        include: { targets: { orderBy: { position: 'asc' }, include: { catalogEntry: true } } },
      });
      if (!alias) throw notFound('ModelAlias');
      op.resourceId = alias.id;
      const { targets, ...row } = alias;
      const entries = targets.map((target) => target.catalogEntry);
      const usable =
        entries.length === 0
          ? new Set<string>()
          : new Set(
              (
                await tx.agentCatalog.findMany({
                  where: { id: { in: entries.map((entry) => entry.id) }, ...availableModelsWhere(organizationId, workspaceId) },
                  select: { id: true },
                })
              ).map((entry) => entry.id),
            );
      const configs = await runtimeConfigs(ctx, tx, entries.filter((entry) => usable.has(entry.id)));
      aliasTargetsLoader(ctx).prime(row.id, entries);
      return { alias: row, configs, skipped: entries.filter((entry) => !usable.has(entry.id)) };
    });
  } catch (error) {
    await op.fail(error);
    throw error;
  }
}
