import type { Context } from '../../graphql/context.ts';
import { Prisma } from '../../generated/prisma/client.ts';
import { parseId } from '../../graphql/builder.ts';
import { badInput } from '../../graphql/errors.ts';
import { CAPABILITY_PATTERN } from './metadata.ts';

export type CatalogOrigin = 'PLATFORM' | 'ORGANIZATION' | 'CUSTOM_PROVIDER';

export interface CatalogEntryFilter {
  provider?: string | null;
  modelNameContains?: string | null;
  origin?: CatalogOrigin | null;
  customProviderId?: string | null;
  enabledForOrganization?: boolean | null;
  capabilities?: readonly string[] | null;
}

/** Rows an organization may see: its own and the platform's. */
export function visibleTo(organizationId: string): Prisma.AgentCatalogWhereInput {
  return { OR: [{ organizationId }, { organizationId: null }] };
}

export function originWhere(origin: CatalogOrigin): Prisma.AgentCatalogWhereInput {
  switch (origin) {
    case 'PLATFORM':
      return { organizationId: null };
    case 'CUSTOM_PROVIDER':
      return { customProviderId: { not: null } };
    case 'ORGANIZATION':
      return { organizationId: { not: null }, customProviderId: null };
  }
}

/** LIKE wildcards and the escape character match themselves. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A filter whose values were checked, with the provider id decoded. */
interface CheckedFilter {
  provider?: string;
  modelNameContains?: string;
  origin?: CatalogOrigin;
  customProviderId?: string;
  enabledForOrganization?: boolean;
  capabilities?: readonly string[];
}

function checkFilter(filter: CatalogEntryFilter, argument: string): CheckedFilter {
  const checked: CheckedFilter = {};
  if (filter.provider != null) {
    if (filter.provider.length > 120) throw badInput(`${argument}.provider`, 'must be at most 120 characters');
    checked.provider = filter.provider;
  }
  if (filter.modelNameContains != null) {
    if (filter.modelNameContains.length > 500) {
      throw badInput(`${argument}.modelNameContains`, 'must be at most 500 characters');
    }
    checked.modelNameContains = filter.modelNameContains;
  }
  if (filter.origin != null) checked.origin = filter.origin;
  if (filter.customProviderId != null) {
    checked.customProviderId = parseId(filter.customProviderId, 'CustomProvider', `${argument}.customProviderId`);
  }
  if (filter.enabledForOrganization != null) checked.enabledForOrganization = filter.enabledForOrganization;
  if (filter.capabilities != null) {
    for (const capability of filter.capabilities) {
      if (!CAPABILITY_PATTERN.test(capability)) {
        throw badInput(`${argument}.capabilities`, 'capability names are lowercase letters, digits and _');
      }
    }
    if (filter.capabilities.length > 0) checked.capabilities = filter.capabilities;
  }
  return checked;
}

/**
 * The `where` of a CatalogEntryFilter (all conditions AND-combined), always limited
 * to the rows visible to the caller's organization. catalogFilterSql is the same
 * filter in SQL; test/catalog checks that both select the same rows.
 */
export function catalogFilterWhere(ctx: Context, filter: CatalogEntryFilter | null | undefined, argument = 'filter'): Prisma.AgentCatalogWhereInput {
  const organizationId = ctx.db.organizationId;
  const and: Prisma.AgentCatalogWhereInput[] = [visibleTo(organizationId)];
  if (!filter) return { AND: and };
  const checked = checkFilter(filter, argument);
  if (checked.provider !== undefined) and.push({ modelProvider: checked.provider });
  if (checked.modelNameContains !== undefined) {
    and.push({ modelName: { contains: escapeLike(checked.modelNameContains), mode: 'insensitive' } });
  }
  if (checked.origin !== undefined) and.push(originWhere(checked.origin));
  if (checked.customProviderId !== undefined) and.push({ customProviderId: checked.customProviderId });
  if (checked.enabledForOrganization !== undefined) {
    const grant = { access: { some: { organizationId, workspaceId: null } } };
    and.push(checked.enabledForOrganization ? grant : { NOT: grant });
  }
  // The effective capabilities (SPEC §14), as CatalogEntry.capabilities shows them.
  if (checked.capabilities) and.push({ effective: { is: { capabilities: { array_contains: [...checked.capabilities] } } } });
  return { AND: and };
}

const ORIGIN_SQL: Record<CatalogOrigin, Prisma.Sql> = {
  PLATFORM: Prisma.sql`c.organization_id IS NULL`,
  CUSTOM_PROVIDER: Prisma.sql`c.custom_provider_id IS NOT NULL`,
  ORGANIZATION: Prisma.sql`c.organization_id IS NOT NULL AND c.custom_provider_id IS NULL`,
};

/** catalogFilterWhere as SQL, and whether it compares with the filter's values. */
export interface CatalogFilterSql {
  /**
   * Conditions on `c`, an agent_catalog row, without the organization's: which of the
   * rows row-level security lets the tenant transaction see (the organization's and the
   * platform's) the filter selects. The statements that use it check or restrict the
   * organization themselves (page-sql.ts): beside the policy's own condition, a second
   * one on the organization made PostgreSQL count it twice and expect a filtered page to
   * match a few rows where thousands do, and sort every match instead of walking the
   * ordering's index (a capabilities filter cost 12 ms instead of 0.75, BENCHMARKS.md step 18).
   */
  where: Prisma.Sql;
  /** True when a condition compares with a value of the filter: the best plan then depends on that value (see unseenByPlanner). */
  byValue: boolean;
}

export function catalogFilterSql(ctx: Context, filter: CatalogEntryFilter | null | undefined, argument = 'filter'): CatalogFilterSql {
  const organizationId = ctx.db.organizationId;
  const and: Prisma.Sql[] = [];
  const checked = filter ? checkFilter(filter, argument) : {};
  if (checked.provider !== undefined) and.push(Prisma.sql`c.model_provider = ${checked.provider}`);
  if (checked.modelNameContains !== undefined) {
    and.push(Prisma.sql`c.model_name ILIKE ${`%${escapeLike(checked.modelNameContains)}%`}`);
  }
  if (checked.origin !== undefined) and.push(ORIGIN_SQL[checked.origin]);
  if (checked.customProviderId !== undefined) and.push(Prisma.sql`c.custom_provider_id = ${checked.customProviderId}::uuid`);
  if (checked.enabledForOrganization !== undefined) {
    const grant = Prisma.sql`EXISTS (SELECT 1 FROM agent_model_access a
      WHERE a.organization_id = ${organizationId}::uuid AND a.workspace_id IS NULL AND a.catalog_id = c.id)`;
    and.push(checked.enabledForOrganization ? grant : Prisma.sql`NOT ${grant}`);
  }
  if (checked.capabilities) {
    and.push(Prisma.sql`c.effective_capabilities @> ${JSON.stringify(checked.capabilities)}::jsonb`);
  }
  return { where: and.length > 0 ? Prisma.join(and, ' AND ') : Prisma.sql`TRUE`, byValue: and.some((condition) => condition.values.length > 0) };
}
