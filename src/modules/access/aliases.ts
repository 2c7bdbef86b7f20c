import { loader, type Context } from '../../graphql/context.ts';
import { Prisma, type AgentCatalog, type AgentModelAlias } from '../../generated/prisma/client.ts';
import { parseId } from '../../graphql/builder.ts';
import { badInput, isForeignKeyViolation, notFound } from '../../graphql/errors.ts';
import { paginate, planConnection, type ConnectionArgs, type Ordering } from '../../graphql/pagination.ts';
import { queryOnConnection, type Tx } from '../../db/scope.ts';
import { AuditedOperation } from '../audit/record.ts';
import { visibleTo } from '../catalog/filter.ts';
import { runtimeConfig, type ProviderSettings, type ResolvedModelConfig } from '../runtime/service.ts';
import { assertOwnWorkspace, availableSql } from './effective.ts';
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

/** The organization's aliases, by name. */
function organizationAliases(ctx: Context, args: ConnectionArgs) {
  return paginate(
    aliasOrdering,
    args,
    { organizationId: ctx.db.organizationId, workspaceId: null },
    (query) => ctx.db.transaction((tx) => tx.agentModelAlias.findMany(query)),
    (query) => ctx.db.transaction((tx) => tx.agentModelAlias.count(query)),
  );
}

const ALIAS_COLUMNS = Prisma.raw(`a.id, a.organization_id AS "organizationId", a.workspace_id AS "workspaceId", a.name,
  a.description, a.created_at AS "createdAt", a.updated_at AS "updatedAt"`);

/** The aliases the workspace `workspace` (an SQL expression) resolves: its own, and the organization's it does not override. */
function workspaceViewSql(organizationId: string, workspace: Prisma.Sql): Prisma.Sql {
  const organization = Prisma.sql`${organizationId}::uuid`;
  return Prisma.sql`a.organization_id = ${organization}
    AND (a.workspace_id = ${workspace}
         OR (a.workspace_id IS NULL AND NOT EXISTS (SELECT 1 FROM agent_model_alias o
              WHERE o.organization_id = ${organization} AND o.workspace_id = ${workspace} AND o.name = a.name)))`;
}

/**
 * The page `args` asks of each workspace's view, for every workspace asked in one tick
 * of a request in one statement (a page of workspaces with their aliases costs no more
 * than one); the counts likewise, when asked.
 */
function workspaceAliases(ctx: Context, args: ConnectionArgs, workspaceId: string) {
  const plan = planConnection(aliasOrdering, args);
  const { after, before, backward, take } = plan.keyset;
  const organizationId = ctx.db.organizationId;
  const view = workspaceViewSql(organizationId, Prisma.sql`w.id`);
  const bounds = [
    ...(after ? [Prisma.sql`(a.name, a.id) > (${after[0]}::text, ${after[1]}::uuid)`] : []),
    ...(before ? [Prisma.sql`(a.name, a.id) < (${before[0]}::text, ${before[1]}::uuid)`] : []),
  ];
  const order = Prisma.raw(backward ? 'a.name DESC, a.id DESC' : 'a.name ASC, a.id ASC');
  const pages = loader<string, AgentModelAlias[]>(ctx, `modelAliasViews:${JSON.stringify(plan.keyset)}`, async (workspaceIds) => {
    const rows = await ctx.db.transaction((tx) => tx.$queryRaw<(AgentModelAlias & { viewOf: string })[]>`
      SELECT w.id::text AS "viewOf", p.* FROM unnest(${[...workspaceIds]}::uuid[]) AS w(id)
      CROSS JOIN LATERAL (SELECT ${ALIAS_COLUMNS} FROM agent_model_alias a
        WHERE ${Prisma.join([view, ...bounds], ' AND ')} ORDER BY ${order} LIMIT ${take}) p`);
    const byWorkspace = new Map<string, AgentModelAlias[]>(workspaceIds.map((id) => [id, []]));
    for (const { viewOf, ...alias } of rows) byWorkspace.get(viewOf)!.push(alias);
    return workspaceIds.map((id) => byWorkspace.get(id)!);
  });
  const counts = loader<string, number>(ctx, 'modelAliasViewCounts', async (workspaceIds) => {
    const rows = await ctx.db.transaction((tx) => tx.$queryRaw<{ viewOf: string; count: number }[]>`
      SELECT w.id::text AS "viewOf", (SELECT count(*)::int FROM agent_model_alias a WHERE ${view}) AS count
      FROM unnest(${[...workspaceIds]}::uuid[]) AS w(id)`);
    const byWorkspace = new Map(rows.map((row) => [row.viewOf, row.count]));
    return workspaceIds.map((id) => byWorkspace.get(id) ?? 0);
  });
  return pages.load(workspaceId).then((rows) => plan.build(rows, () => counts.load(workspaceId)));
}

/**
 * Without a workspace the organization's aliases; with one, the workspace's own and the
 * organization's it does not override. Ordered by name (unique within either view).
 */
export function listAliases(ctx: Context, args: ConnectionArgs, workspaceId: string | null) {
  return workspaceId ? workspaceAliases(ctx, args, workspaceId) : organizationAliases(ctx, args);
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

/**
 * Stores the targets of an alias in order. An entry deleted since it was checked is left
 * out by the statement (row-level security would otherwise refuse the row): then
 * NOT_FOUND, and the transaction's other writes go with it.
 */
async function insertTargets(tx: Tx, organizationId: string, aliasId: string, targetIds: string[]): Promise<void> {
  const inserted = await tx.$executeRaw`
    INSERT INTO agent_model_alias_target (organization_id, alias_id, position, catalog_id)
    SELECT ${organizationId}::uuid, ${aliasId}::uuid, (u.ordinality - 1)::smallint, u.id
    FROM unnest(${targetIds}::uuid[]) WITH ORDINALITY AS u(id, ordinality)
    WHERE EXISTS (SELECT 1 FROM agent_catalog c WHERE c.id = u.id)`;
  if (inserted !== targetIds.length) throw notFound('CatalogEntry');
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
      try {
        alias = await tx.agentModelAlias.create({ data: { organizationId, workspaceId, name, description } });
      } catch (error) {
        // The workspace was deleted after the check above.
        if (isForeignKeyViolation(error)) throw notFound('Workspace');
        throw error;
      }
      await insertTargets(tx, organizationId, alias.id, targetIds);
    } else {
      op.action = 'update';
      const sameTargets =
        existing.targets.length === targetIds.length && existing.targets.every((target, index) => target.catalogId === targetIds[index]);
      const { targets: _stored, ...row } = existing;
      alias = row;
      if (!sameTargets) {
        await tx.agentModelAliasTarget.deleteMany({ where: { aliasId: existing.id, organizationId } });
        await insertTargets(tx, organizationId, existing.id, targetIds);
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

interface ResolutionJson {
  /** False when the workspace asked for is not one of the organization's. */
  workspace: boolean;
  alias: Record<string, unknown> | null;
  targets: { entry: Record<string, unknown>; usable: boolean; provider: Record<string, unknown> | null }[];
}

const date = (value: unknown): Date | null => (value === null ? null : new Date(value as string));

function aliasRow(json: Record<string, unknown>): AgentModelAlias {
  return { ...(json as unknown as AgentModelAlias), createdAt: new Date(json.createdAt as string), updatedAt: new Date(json.updatedAt as string) };
}

function catalogRow(json: Record<string, unknown>): AgentCatalog {
  return {
    ...(json as unknown as AgentCatalog),
    lastRefreshedAt: date(json.lastRefreshedAt),
    createdAt: new Date(json.createdAt as string),
    updatedAt: new Date(json.updatedAt as string),
  };
}

function providerSettings(json: Record<string, unknown> | null): ProviderSettings | null {
  if (!json) return null;
  const hex = json.encryptedConfig as string | null;
  return { ...(json as unknown as ProviderSettings), encryptedConfig: hex === null ? null : Uint8Array.from(Buffer.from(hex, 'hex')) };
}

/**
 * The alias a resolution finds, its targets in order with whether each may be used
 * there (the one access rule, availableSql) and the custom provider of each, and
 * whether the workspace is the organization's: one statement whatever the number of
 * targets. Sent past Prisma's query engine, whose planning and row mapping of the
 * joined rows cost more CPU than the statement (the catalog page does the same).
 */
function resolutionSql(organizationId: string, name: string, workspaceId: string | null): Prisma.Sql {
  const organization = Prisma.sql`${organizationId}::uuid`;
  const workspace = workspaceId ? Prisma.sql`${workspaceId}::uuid` : null;
  return Prisma.sql`WITH chosen AS (
      SELECT * FROM agent_model_alias a
      WHERE a.organization_id = ${organization} AND a.name = ${name}
        AND ${workspace ? Prisma.sql`(a.workspace_id IS NULL OR a.workspace_id = ${workspace})` : Prisma.sql`a.workspace_id IS NULL`}
      -- The workspace's own alias before the organization's.
      ORDER BY a.workspace_id NULLS LAST LIMIT 1)
    SELECT json_build_object(
      'workspace', ${workspace ? Prisma.sql`EXISTS (SELECT 1 FROM workspace w WHERE w.id = ${workspace} AND w.organization_id = ${organization})` : Prisma.sql`true`},
      'alias', (SELECT json_build_object('id', a.id, 'organizationId', a.organization_id, 'workspaceId', a.workspace_id, 'name', a.name,
                  'description', a.description, 'createdAt', a.created_at, 'updatedAt', a.updated_at) FROM chosen a),
      'targets', (SELECT coalesce(json_agg(json_build_object(
          'entry', json_build_object('id', c.id, 'organizationId', c.organization_id, 'customProviderId', c.custom_provider_id,
            'modelProvider', c.model_provider, 'modelName', c.model_name, 'displayName', c.display_name, 'modelMetadata', c.model_metadata,
            'lastRefreshedAt', c.last_refreshed_at, 'createdAt', c.created_at, 'updatedAt', c.updated_at, 'capabilities', c.capabilities,
            'maxInputTokens', c.max_input_tokens, 'maxOutputTokens', c.max_output_tokens, 'inputCostPerToken', c.input_cost_per_token,
            'outputCostPerToken', c.output_cost_per_token, 'modelBaseName', c.model_base_name, 'overrides', c.overrides),
          'usable', ${availableSql(organizationId, workspace, Prisma.sql`t.catalog_id`)},
          'provider', CASE WHEN p.id IS NULL THEN NULL ELSE json_build_object('baseUrl', p.base_url, 'passthrough', p.passthrough,
            'apiKeyHeader', p.api_key_header, 'encryptedConfig', encode(p.encrypted_config, 'hex')) END)
          ORDER BY t.position), '[]')
        FROM chosen a
        JOIN agent_model_alias_target t ON t.organization_id = a.organization_id AND t.alias_id = a.id
        JOIN agent_catalog c ON c.id = t.catalog_id
        LEFT JOIN agent_custom_provider p ON p.organization_id = c.organization_id AND p.id = c.custom_provider_id))::text`;
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
      const [[text]] = (await queryOnConnection(tx, resolutionSql(organizationId, name, workspaceId))) as [[string]];
      const found = JSON.parse(text) as ResolutionJson;
      if (!found.workspace) throw notFound('Workspace');
      if (!found.alias) throw notFound('ModelAlias');
      const alias = aliasRow(found.alias);
      op.resourceId = alias.id;
      const targets = found.targets.map((target) => ({ ...target, entry: catalogRow(target.entry) }));
      const entries = targets.map((target) => target.entry);
      aliasTargetsLoader(ctx).prime(alias.id, entries);
      return {
        alias,
        configs: targets.filter((target) => target.usable).map((target) => runtimeConfig(ctx, target.entry, providerSettings(target.provider))),
        skipped: targets.filter((target) => !target.usable).map((target) => target.entry),
      };
    });
  } catch (error) {
    await op.fail(error);
    throw error;
  }
}
