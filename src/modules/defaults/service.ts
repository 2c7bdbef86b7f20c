import { loader, type Context } from '../../graphql/context.ts';
import type { AgentCatalog, Prisma } from '../../generated/prisma/client.ts';
import { UUID_PATTERN } from '../../graphql/builder.ts';
import { notFound } from '../../graphql/errors.ts';
import type { Tx } from '../../db/scope.ts';
import type { AuditedOperation } from '../audit/record.ts';
import { effectiveModelsWhere, enabledForOrganizationWhere, isEffectiveFor } from '../access/effective.ts';
import { catalogEntryLoader } from '../access/loaders.ts';

/** organization_setting keys (JSON string values). */
const DEFAULT_CATALOG_ID_KEY = 'agent_default_model_catalog_id';
/** The predecessor stored the default by model name only; still honoured when no id is stored. */
const LEGACY_DEFAULT_NAME_KEY = 'agent_default_model';
const ORGANIZATION_DEFAULT_KEYS = [DEFAULT_CATALOG_ID_KEY, LEGACY_DEFAULT_NAME_KEY];

export type DefaultModelSource = 'CATALOG_ID' | 'LEGACY_MODEL_NAME';
/** Whose default a selection is. */
export type DefaultModelLevel = 'ORGANIZATION' | 'WORKSPACE';

export interface DefaultModelSelection {
  entry: AgentCatalog;
  source: DefaultModelSource;
  level: DefaultModelLevel;
}

/**
 * Makes an entry the default: the organization's (it needs an organization-level
 * grant) or, with a workspace, that workspace's own (it must be one of the workspace's
 * effective models). NOT_FOUND otherwise. The organization's catalog id and model name
 * are written by one statement, so they can never disagree.
 */
export async function setDefaultModel(
  ctx: Context,
  op: AuditedOperation,
  input: { catalogId: string; workspaceId: string | null },
): Promise<DefaultModelSelection> {
  const organizationId = ctx.db.organizationId;
  const { catalogId, workspaceId } = input;
  op.resourceId = catalogId;
  op.workspaceId = workspaceId;
  return op.commit(async (tx) => {
    if (workspaceId) {
      await requireWorkspaceIn(tx, organizationId, workspaceId);
      const entry = await tx.agentCatalog.findFirst({ where: { id: catalogId, ...effectiveModelsWhere(organizationId, workspaceId) } });
      if (!entry) throw notFound('CatalogEntry effective for the workspace');
      await tx.$executeRaw`
        INSERT INTO workspace_default_model (organization_id, workspace_id, catalog_id)
        VALUES (${organizationId}::uuid, ${workspaceId}::uuid, ${entry.id}::uuid)
        ON CONFLICT (organization_id, workspace_id) DO UPDATE SET catalog_id = EXCLUDED.catalog_id, updated_at = CURRENT_TIMESTAMP`;
      return { entry, source: 'CATALOG_ID' as const, level: 'WORKSPACE' as const };
    }
    const entry = await tx.agentCatalog.findFirst({
      where: { id: catalogId, ...enabledForOrganizationWhere(organizationId) },
    });
    if (!entry) throw notFound('CatalogEntry enabled for the organization');
    await tx.$executeRaw`
      INSERT INTO organization_setting (organization_id, key, value)
      VALUES (${organizationId}::uuid, ${DEFAULT_CATALOG_ID_KEY}, ${JSON.stringify(entry.id)}::jsonb),
             (${organizationId}::uuid, ${LEGACY_DEFAULT_NAME_KEY}, ${JSON.stringify(entry.modelName)}::jsonb)
      ON CONFLICT (organization_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = CURRENT_TIMESTAMP`;
    return { entry, source: 'CATALOG_ID' as const, level: 'ORGANIZATION' as const };
  });
}

/**
 * Removes the stored default: the organization's (both settings) or the workspace's own,
 * after which the organization's applies to it again. True when one was stored.
 */
export async function clearDefaultModel(ctx: Context, op: AuditedOperation, workspaceId: string | null): Promise<boolean> {
  const organizationId = ctx.db.organizationId;
  op.workspaceId = workspaceId;
  return op.commit(async (tx) => {
    if (workspaceId) {
      await requireWorkspaceIn(tx, organizationId, workspaceId);
      const { count } = await tx.workspaceDefaultModel.deleteMany({ where: { organizationId, workspaceId } });
      return count > 0;
    }
    const { count } = await tx.organizationSetting.deleteMany({ where: { organizationId, key: { in: ORGANIZATION_DEFAULT_KEYS } } });
    return count > 0;
  });
}

async function requireWorkspaceIn(tx: Tx, organizationId: string, workspaceId: string): Promise<void> {
  const workspace = await tx.workspace.findFirst({ where: { id: workspaceId, organizationId }, select: { id: true } });
  if (!workspace) throw notFound('Workspace');
}

/**
 * The organization's default model (SPEC §6), once per request. A stored catalog id
 * resolves to that entry while it is enabled for the organization and to null
 * otherwise — never to another model. Only without a usable id does the legacy name
 * count: the single enabled entry of that name, else the single non-custom-provider
 * one, else null.
 */
export function organizationDefault(ctx: Context): Promise<DefaultModelSelection | null> {
  return loader<'organization', DefaultModelSelection | null>(ctx, 'organizationDefaultModel', async (keys) => {
    const selection = await resolveOrganizationDefault(ctx);
    return keys.map(() => selection);
  }).load('organization');
}

async function resolveOrganizationDefault(ctx: Context): Promise<DefaultModelSelection | null> {
  const organizationId = ctx.db.organizationId;
  return ctx.db.transaction(async (tx) => {
    const settings = await tx.organizationSetting.findMany({
      where: { organizationId, key: { in: ORGANIZATION_DEFAULT_KEYS } },
    });
    const stored = (key: string) => {
      const value = settings.find((setting) => setting.key === key)?.value;
      return typeof value === 'string' && value.length > 0 ? value : null;
    };
    const enabled = enabledForOrganizationWhere(organizationId);
    const level = 'ORGANIZATION' as const;

    const catalogId = stored(DEFAULT_CATALOG_ID_KEY);
    if (catalogId && UUID_PATTERN.test(catalogId)) {
      const entry = await tx.agentCatalog.findFirst({ where: { id: catalogId.toLowerCase(), ...enabled } });
      return entry ? { entry, source: 'CATALOG_ID' as const, level } : null;
    }

    const modelName = stored(LEGACY_DEFAULT_NAME_KEY);
    if (!modelName) return null;
    const entry = await singleMatch(tx, { AND: [enabled, { modelName }] })
      ?? await singleMatch(tx, { AND: [enabled, { modelName, customProviderId: null }] });
    return entry ? { entry, source: 'LEGACY_MODEL_NAME' as const, level } : null;
  });
}

/** The only entry matching `where`, or null when there is none or more than one. */
async function singleMatch(tx: Tx, where: Prisma.AgentCatalogWhereInput) {
  const rows = await tx.agentCatalog.findMany({ where, take: 2 });
  return rows.length === 1 ? rows[0]! : null;
}

/**
 * The default model of each workspace (SPEC §13), batched per request: its own default
 * while that is still one of its effective models (WORKSPACE), null when it stopped
 * being one — never another model —; without one of its own, the organization's
 * default when the workspace may use it (ORGANIZATION), else null. A page of
 * workspaces costs the same few statements as one: their own defaults, whether each
 * candidate is effective for its workspace, and the entries.
 */
export function workspaceDefaultLoader(ctx: Context) {
  return loader<string, DefaultModelSelection | null>(ctx, 'workspaceDefaultModel', async (workspaceIds) => {
    const organizationId = ctx.db.organizationId;
    const [own, inherited] = await Promise.all([
      ctx.db.transaction((tx) => tx.workspaceDefaultModel.findMany({ where: { organizationId, workspaceId: { in: [...workspaceIds] } } })),
      organizationDefault(ctx),
    ]);
    const ownByWorkspace = new Map(own.map((row) => [row.workspaceId, row]));
    const candidates = workspaceIds.map((workspaceId) => {
      const stored = ownByWorkspace.get(workspaceId);
      if (stored) return { workspaceId, catalogId: stored.catalogId, level: 'WORKSPACE' as const };
      return { workspaceId, catalogId: inherited?.entry.id ?? null, level: 'ORGANIZATION' as const };
    });
    const effective = await Promise.all(
      candidates.map((candidate) =>
        candidate.catalogId ? isEffectiveFor(ctx, candidate.workspaceId, candidate.catalogId) : false,
      ),
    );
    return Promise.all(
      candidates.map(async (candidate, index): Promise<DefaultModelSelection | null> => {
        if (!effective[index] || !candidate.catalogId) return null;
        if (candidate.level === 'ORGANIZATION') return inherited;
        const entry = await catalogEntryLoader(ctx).load(candidate.catalogId);
        return entry && { entry, source: 'CATALOG_ID', level: 'WORKSPACE' };
      }),
    );
  });
}
