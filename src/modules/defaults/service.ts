import type { Context } from '../../graphql/context.ts';
import type { AgentCatalog, Prisma } from '../../generated/prisma/client.ts';
import { UUID_PATTERN } from '../../graphql/builder.ts';
import { notFound } from '../../graphql/errors.ts';
import type { Tx } from '../../db/scope.ts';
import type { AuditedOperation } from '../audit/record.ts';
import { enabledForOrganizationWhere } from '../access/effective.ts';

/** organization_setting keys (JSON string values). */
const DEFAULT_CATALOG_ID_KEY = 'agent_default_model_catalog_id';
/** The predecessor stored the default by model name only; still honoured when no id is stored. */
const LEGACY_DEFAULT_NAME_KEY = 'agent_default_model';

export type DefaultModelSource = 'CATALOG_ID' | 'LEGACY_MODEL_NAME';

export interface DefaultModelSelection {
  entry: AgentCatalog;
  source: DefaultModelSource;
}

/**
 * Makes an organization-enabled entry the default. The catalog id and the model name
 * are written by one statement, so they can never disagree.
 */
export async function setDefaultModel(ctx: Context, op: AuditedOperation, catalogId: string): Promise<DefaultModelSelection> {
  const organizationId = ctx.db.organizationId;
  op.resourceId = catalogId;
  return op.commit(async (tx) => {
    const entry = await tx.agentCatalog.findFirst({
      where: { id: catalogId, ...enabledForOrganizationWhere(organizationId) },
    });
    if (!entry) throw notFound('CatalogEntry enabled for the organization');
    await tx.$executeRaw`
      INSERT INTO organization_setting (organization_id, key, value)
      VALUES (${organizationId}::uuid, ${DEFAULT_CATALOG_ID_KEY}, ${JSON.stringify(entry.id)}::jsonb),
             (${organizationId}::uuid, ${LEGACY_DEFAULT_NAME_KEY}, ${JSON.stringify(entry.modelName)}::jsonb)
      ON CONFLICT (organization_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = CURRENT_TIMESTAMP`;
    return { entry, source: 'CATALOG_ID' as const };
  });
}

/**
 * The organization's default model (SPEC §6). A stored catalog id resolves to that
 * entry while it is enabled for the organization and to null otherwise — never to
 * another model. Only without a usable id does the legacy name count: the single
 * enabled entry of that name, else the single non-custom-provider one, else null.
 */
export async function defaultModelSelection(ctx: Context): Promise<DefaultModelSelection | null> {
  const organizationId = ctx.db.organizationId;
  return ctx.db.transaction(async (tx) => {
    const settings = await tx.organizationSetting.findMany({
      where: { organizationId, key: { in: [DEFAULT_CATALOG_ID_KEY, LEGACY_DEFAULT_NAME_KEY] } },
    });
    const stored = (key: string) => {
      const value = settings.find((setting) => setting.key === key)?.value;
      return typeof value === 'string' && value.length > 0 ? value : null;
    };
    const enabled = enabledForOrganizationWhere(organizationId);

    const catalogId = stored(DEFAULT_CATALOG_ID_KEY);
    if (catalogId && UUID_PATTERN.test(catalogId)) {
      const entry = await tx.agentCatalog.findFirst({ where: { id: catalogId.toLowerCase(), ...enabled } });
      return entry ? { entry, source: 'CATALOG_ID' as const } : null;
    }

    const modelName = stored(LEGACY_DEFAULT_NAME_KEY);
    if (!modelName) return null;
    const entry = await singleMatch(tx, { AND: [enabled, { modelName }] })
      ?? await singleMatch(tx, { AND: [enabled, { modelName, customProviderId: null }] });
    return entry ? { entry, source: 'LEGACY_MODEL_NAME' as const } : null;
  });
}

/** The only entry matching `where`, or null when there is none or more than one. */
async function singleMatch(tx: Tx, where: Prisma.AgentCatalogWhereInput) {
  const rows = await tx.agentCatalog.findMany({ where, take: 2 });
  return rows.length === 1 ? rows[0]! : null;
}
