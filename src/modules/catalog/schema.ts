import { builder } from '../../graphql/builder.ts';
import { connectionOf } from '../../graphql/connections.ts';
import type { AgentCatalog } from '../../generated/prisma/client.ts';
import { CustomProviderRef } from '../providers/types.ts';
import { customProviderLoader } from '../providers/loaders.ts';
import { asMetadata } from './metadata.ts';
import { bounded } from '../../graphql/input-bounds.ts';
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
      resolve: (row, _args, ctx) => (row.customProviderId ? customProviderLoader(ctx).load(row.customProviderId) : null),
    }),
    metadata: t.field({
      type: 'JSONObject',
      description: 'Everything known about the model, as stored (platform data, discovery payload or cloud config).',
      resolve: (row) => asMetadata(row.modelMetadata),
    }),
    capabilities: t.stringList({
      description:
        'Capability flags that are true, without the supports_ prefix, sorted (e.g. function_calling, vision).',
      // Derived from the metadata by PostgreSQL when the row is written (see the migration).
      resolve: (row) => row.capabilities as string[],
    }),
    limits: t.field({
      type: ModelLimitsRef,
      resolve: (row) => ({ maxInputTokens: row.maxInputTokens, maxOutputTokens: row.maxOutputTokens }),
    }),
    pricing: t.field({
      type: ModelPricingRef,
      resolve: (row) => ({ inputCostPerToken: row.inputCostPerToken, outputCostPerToken: row.outputCostPerToken }),
    }),
    lastRefreshedAt: t.expose('lastRefreshedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

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
