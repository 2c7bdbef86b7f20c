import { builder } from '../../graphql/builder.ts';
import { connectionOf } from '../../graphql/connections.ts';
import type { AgentCatalog, AgentCatalogEffective } from '../../generated/prisma/client.ts';
import { CustomProviderRef } from '../providers/types.ts';
import { customProviderLoader } from '../providers/loaders.ts';
import { asMetadata } from './metadata.ts';
import { bounded } from '../../graphql/input-bounds.ts';
import type { Context } from '../../graphql/context.ts';
import { effectiveValuesLoader } from './effective.ts';
import { readWithPage } from './page-sql.ts';
import { catalogEntryLoader } from '../access/loaders.ts';
import type { CatalogOrigin } from './filter.ts';

export const CatalogOriginEnum = builder.enumType('CatalogOrigin', {
  values: {
    PLATFORM: { description: 'Shipped with the service; organization_id is null; read-only for tenants.' },
    ORGANIZATION: { description: 'Created by the organization (cloud deployments: Bedrock, Azure, Vertex).' },
    CUSTOM_PROVIDER: { description: "Discovered from one of the organization's custom providers." },
  } as const,
});

export function originOf(row: Pick<AgentCatalog, 'organizationId' | 'customProviderId'>): CatalogOrigin {
  if (row.organizationId === null) return 'PLATFORM';
  return row.customProviderId ? 'CUSTOM_PROVIDER' : 'ORGANIZATION';
}

interface ModelLimits {
  maxInputTokens: number | null;
  maxOutputTokens: number | null;
}

interface ModelPricing {
  inputCostPerToken: number | null;
  outputCostPerToken: number | null;
}

const ModelLimitsRef = builder.objectRef<ModelLimits>('ModelLimits').implement({
  fields: (t) => ({
    maxInputTokens: t.exposeInt('maxInputTokens', { nullable: true }),
    maxOutputTokens: t.exposeInt('maxOutputTokens', { nullable: true }),
  }),
});

const ModelPricingRef = builder.objectRef<ModelPricing>('ModelPricing').implement({
  fields: (t) => ({
    inputCostPerToken: t.exposeFloat('inputCostPerToken', { nullable: true, description: 'USD per input token.' }),
    outputCostPerToken: t.exposeFloat('outputCostPerToken', { nullable: true, description: 'USD per output token.' }),
  }),
});

type EffectiveValues = Pick<AgentCatalog, 'capabilities' | 'maxInputTokens' | 'maxOutputTokens' | 'inputCostPerToken' | 'outputCostPerToken'>;

/**
 * An entry's effective values (override, own metadata, inherited: SPEC §14): read with
 * its page, else by the loader. Null for an entry no longer visible by the time they
 * are read (deleted meanwhile).
 */
function effectiveRow(ctx: Context, row: AgentCatalog): AgentCatalogEffective | null | Promise<AgentCatalogEffective | null> {
  return readWithPage(row)?.effective ?? effectiveValuesLoader(ctx).load(row.id);
}

/**
 * `pick` of the entry's effective values, synchronously when its page read them. An
 * entry without any (see effectiveRow) shows its own, derived from its metadata when
 * it was written.
 */
function fromEffective<T>(ctx: Context, row: AgentCatalog, pick: (effective: EffectiveValues) => T): T | Promise<T> {
  const effective = effectiveRow(ctx, row);
  return effective instanceof Promise ? effective.then((read) => pick(read ?? row)) : pick(effective ?? row);
}

export const CatalogEntryRef = builder.prismaNode('AgentCatalog', {
  name: 'CatalogEntry',
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, OR: [{ organizationId: ctx.db.organizationId }, { organizationId: null }] }),
  // node() answers null for an unknown or foreign id instead of failing.
  nullable: true,
  fields: (t) => ({
    databaseId: t.expose('id', { type: 'UUID' }),
    modelProvider: t.exposeString('modelProvider'),
    modelName: t.exposeString('modelName'),
    displayName: t.exposeString('displayName', { nullable: true }),
    origin: t.field({ type: CatalogOriginEnum, resolve: (row) => originOf(row) }),
    organizationId: t.expose('organizationId', { type: 'UUID', nullable: true }),
    customProvider: t.field({
      type: CustomProviderRef,
      nullable: true,
      resolve: (row, _args, ctx) => {
        if (!row.customProviderId) return null;
        const read = readWithPage(row)?.customProvider;
        return read !== undefined ? read : customProviderLoader(ctx).load(row.customProviderId);
      },
    }),
    metadata: t.field({
      type: 'JSONObject',
      description: 'Everything known about the model, as stored (platform data, discovery payload or cloud config).',
      resolve: (row) => asMetadata(row.modelMetadata),
    }),
    capabilities: t.stringList({
      description:
        'Capability flags that are true, without the supports_ prefix, sorted (e.g. function_calling, vision).',
      resolve: (row, _args, ctx) => fromEffective(ctx, row, (effective) => effective.capabilities as string[]),
    }),
    limits: t.field({
      type: ModelLimitsRef,
      resolve: (row, _args, ctx) =>
        fromEffective(ctx, row, (effective) => ({ maxInputTokens: effective.maxInputTokens, maxOutputTokens: effective.maxOutputTokens })),
    }),
    pricing: t.field({
      type: ModelPricingRef,
      resolve: (row, _args, ctx) =>
        fromEffective(ctx, row, (effective) => ({ inputCostPerToken: effective.inputCostPerToken, outputCostPerToken: effective.outputCostPerToken })),
    }),
    lastRefreshedAt: t.expose('lastRefreshedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.objectField(CatalogEntryRef, 'inheritsFrom', (t) =>
  t.field({
    type: CatalogEntryRef,
    nullable: true,
    description:
      '(v2) The platform entry this entry takes capabilities, limits and pricing from, where its own metadata and overrides say nothing (discovered models whose name matches a platform model).',
    resolve: async (row, _args, ctx) => {
      const inheritsFromId = (await effectiveRow(ctx, row))?.inheritsFromId;
      return inheritsFromId ? catalogEntryLoader(ctx).load(inheritsFromId) : null;
    },
  }),
);

export const CatalogEntryConnection = connectionOf(CatalogEntryRef, 'CatalogEntry');

export const CatalogEntryFilterInput = builder.inputType('CatalogEntryFilter', {
  fields: (t) => ({
    provider: t.string({ description: 'Exact match on model_provider.' }),
    modelNameContains: t.string({ description: 'Case-insensitive substring of model_name; % and _ match themselves.' }),
    origin: t.field({ type: CatalogOriginEnum }),
    customProviderId: t.id(),
    enabledForOrganization: t.boolean({
      description: 'Only entries that have (true) or lack (false) an organization-level grant.',
    }),
    capabilities: t.stringList(
      bounded({ maxItems: 20, maxLength: 64 }, 'Only entries whose capabilities include all of these (names as in CatalogEntry.capabilities).'),
    ),
  }),
});
