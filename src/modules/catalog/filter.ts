import type { Context } from '../../graphql/context.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
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

/**
 * The `where` of a CatalogEntryFilter (all conditions AND-combined), always limited
 * to the rows visible to the caller's organization.
 */
export function catalogFilterWhere(ctx: Context, filter: CatalogEntryFilter | null | undefined, argument = 'filter'): Prisma.AgentCatalogWhereInput {
  const organizationId = ctx.db.organizationId;
  const and: Prisma.AgentCatalogWhereInput[] = [visibleTo(organizationId)];
  if (!filter) return { AND: and };

  if (filter.provider != null) {
    if (filter.provider.length > 120) throw badInput(`${argument}.provider`, 'must be at most 120 characters');
    and.push({ modelProvider: filter.provider });
  }
  if (filter.modelNameContains != null) {
    if (filter.modelNameContains.length > 500) {
      throw badInput(`${argument}.modelNameContains`, 'must be at most 500 characters');
    }
    and.push({ modelName: { contains: escapeLike(filter.modelNameContains), mode: 'insensitive' } });
  }
  if (filter.origin != null) and.push(originWhere(filter.origin));
  if (filter.customProviderId != null) {
    and.push({ customProviderId: parseId(filter.customProviderId, 'CustomProvider', `${argument}.customProviderId`) });
  }
  if (filter.enabledForOrganization != null) {
    const grant = { access: { some: { organizationId, workspaceId: null } } };
    and.push(filter.enabledForOrganization ? grant : { NOT: grant });
  }
  if (filter.capabilities != null) {
    for (const capability of filter.capabilities) {
      if (!CAPABILITY_PATTERN.test(capability)) {
        throw badInput(`${argument}.capabilities`, 'capability names are lowercase letters, digits and _');
      }
    }
    // The effective capabilities (SPEC §14), as CatalogEntry.capabilities shows them.
    if (filter.capabilities.length > 0) and.push({ effective: { is: { capabilities: { array_contains: [...filter.capabilities] } } } });
  }
  return { AND: and };
}
