import { builder, access, encodeGlobalId, parseId } from '../../graphql/builder.ts';
import type { Context } from '../../graphql/context.ts';
import { Prisma, type AgentCatalog, type AgentModelAccess } from '../../generated/prisma/client.ts';
import { badInput, conflict, isUniqueViolation, notFound } from '../../graphql/errors.ts';
import { defineMutation, deletePayload } from '../../graphql/mutation.ts';
import { optionalText, requiredText } from '../../graphql/validation.ts';
import type { AuditedOperation } from '../audit/record.ts';
import { ModelAccessRef } from '../access/types.ts';
import { CatalogEntryRef, originOf } from './schema.ts';
import { asMetadata } from './metadata.ts';
import { declaredOverrides, ModelOverridesInput, type ModelOverridesInputShape } from './overrides.ts';

/*
 * An ORGANIZATION entry keeps its deployment settings in metadata under `cloud_config`,
 * with the provider given by model_provider:
 *   bedrock       { inference_profile_id?, model_id?, use_converse }
 *   azure_openai  { deployment_name }
 *   azure_ai      { azure_ai_model_name }
 *   vertex_ai     { vertex_model }
 */
const CONFIG_KEY = 'cloud_config';
const STRING_MAX = 500;

type CloudProvider = 'bedrock' | 'azure_openai' | 'azure_ai' | 'vertex_ai';
type StoredConfig = Record<string, string | boolean | null | undefined>;

const MEMBERS = {
  bedrock: { provider: 'bedrock', typename: 'BedrockConfig' },
  azureOpenai: { provider: 'azure_openai', typename: 'AzureOpenAIConfig' },
  azureAi: { provider: 'azure_ai', typename: 'AzureAIConfig' },
  vertexAi: { provider: 'vertex_ai', typename: 'VertexAIConfig' },
} as const;
type Member = keyof typeof MEMBERS;
const MEMBER_OF_PROVIDER = Object.fromEntries(Object.entries(MEMBERS).map(([m, v]) => [v.provider, m])) as Record<CloudProvider, Member>;

builder.enumType('CloudProvider', { values: ['BEDROCK', 'AZURE_OPENAI', 'AZURE_AI', 'VERTEX_AI'] as const });

interface CloudConfigView {
  typename: string;
  config: StoredConfig;
}

const BedrockConfig = builder.objectRef<CloudConfigView>('BedrockConfig').implement({
  fields: (t) => ({
    inferenceProfileId: t.string({ nullable: true, resolve: (v) => (v.config.inference_profile_id as string) ?? null }),
    modelId: t.string({ nullable: true, resolve: (v) => (v.config.model_id as string) ?? null }),
    useConverse: t.boolean({ resolve: (v) => v.config.use_converse === true }),
  }),
});
const AzureOpenAIConfig = builder.objectRef<CloudConfigView>('AzureOpenAIConfig').implement({
  fields: (t) => ({ deploymentName: t.string({ resolve: (v) => String(v.config.deployment_name ?? '') }) }),
});
const AzureAIConfig = builder.objectRef<CloudConfigView>('AzureAIConfig').implement({
  fields: (t) => ({ azureAiModelName: t.string({ resolve: (v) => String(v.config.azure_ai_model_name ?? '') }) }),
});
const VertexAIConfig = builder.objectRef<CloudConfigView>('VertexAIConfig').implement({
  fields: (t) => ({ vertexModel: t.string({ resolve: (v) => String(v.config.vertex_model ?? '') }) }),
});
const CloudModelConfig = builder.unionType('CloudModelConfig', {
  types: [BedrockConfig, AzureOpenAIConfig, AzureAIConfig, VertexAIConfig],
  resolveType: (view) => view.typename,
});

function storedConfig(row: AgentCatalog): StoredConfig | null {
  const config = asMetadata(row.modelMetadata)[CONFIG_KEY];
  return config && typeof config === 'object' && !Array.isArray(config) ? (config as StoredConfig) : null;
}

builder.objectField(CatalogEntryRef, 'cloudConfig', (t) =>
  t.field({
    type: CloudModelConfig,
    nullable: true,
    description: 'Deployment settings of an ORGANIZATION cloud entry; null otherwise.',
    resolve: (row) => {
      const member = MEMBER_OF_PROVIDER[row.modelProvider as CloudProvider];
      const config = storedConfig(row);
      if (originOf(row) !== 'ORGANIZATION' || !member || !config) return null;
      return { typename: MEMBERS[member].typename, config };
    },
  }),
);

// ---------------------------------------------------------------- inputs

const BedrockConfigInput = builder.inputType('BedrockConfigInput', {
  fields: (t) => ({ inferenceProfileId: t.string(), modelId: t.string(), useConverse: t.boolean() }),
});
const AzureOpenAIConfigInput = builder.inputType('AzureOpenAIConfigInput', {
  fields: (t) => ({ deploymentName: t.string({ required: true }) }),
});
const AzureAIConfigInput = builder.inputType('AzureAIConfigInput', {
  fields: (t) => ({ azureAiModelName: t.string({ required: true }) }),
});
const VertexAIConfigInput = builder.inputType('VertexAIConfigInput', {
  fields: (t) => ({ vertexModel: t.string({ required: true }) }),
});
const CloudModelConfigInput = builder.inputType('CloudModelConfigInput', {
  description: "Exactly one member must be given; it decides the entry's provider.",
  isOneOf: true,
  fields: (t) => ({
    bedrock: t.field({ type: BedrockConfigInput }),
    azureOpenai: t.field({ type: AzureOpenAIConfigInput }),
    azureAi: t.field({ type: AzureAIConfigInput }),
    vertexAi: t.field({ type: VertexAIConfigInput }),
  }),
});

type ConfigInput = {
  bedrock?: { inferenceProfileId?: string | null; modelId?: string | null; useConverse?: boolean | null } | null;
  azureOpenai?: { deploymentName: string } | null;
  azureAi?: { azureAiModelName: string } | null;
  vertexAi?: { vertexModel: string } | null;
};

function chosenMember(config: ConfigInput): Member {
  const given = (Object.keys(MEMBERS) as Member[]).filter((m) => config[m] != null);
  if (given.length !== 1) throw badInput('input.config', 'give exactly one of bedrock, azureOpenai, azureAi, vertexAi');
  return given[0]!;
}

/** Merges the given member's fields into `base`: absent keeps, null clears. */
function mergeConfig(member: Member, input: Record<string, unknown>, base: StoredConfig): StoredConfig {
  const path = `input.config.${member}`;
  const text = (key: string, column: string, required: boolean) => {
    if (!(key in input)) return;
    const value = input[key] as string | null | undefined;
    base[column] = required ? requiredText(value, `${path}.${key}`, STRING_MAX) : optionalText(value, `${path}.${key}`, STRING_MAX);
  };
  switch (member) {
    case 'bedrock': {
      text('inferenceProfileId', 'inference_profile_id', false);
      text('modelId', 'model_id', false);
      if ('useConverse' in input) base.use_converse = input.useConverse === true;
      base.use_converse ??= false;
      const references = [base.inference_profile_id, base.model_id].filter((v) => typeof v === 'string' && v !== '');
      if (references.length !== 1) throw badInput(path, 'give exactly one of inferenceProfileId and modelId');
      break;
    }
    case 'azureOpenai':
      text('deploymentName', 'deployment_name', true);
      break;
    case 'azureAi':
      text('azureAiModelName', 'azure_ai_model_name', true);
      break;
    case 'vertexAi':
      text('vertexModel', 'vertex_model', true);
      break;
  }
  return Object.fromEntries(Object.entries(base).filter(([, v]) => v !== null && v !== undefined)) as StoredConfig;
}

// ---------------------------------------------------------------- service

async function createEntry(
  ctx: Context,
  op: AuditedOperation,
  input: { modelName: string; displayName?: string | null; config: ConfigInput },
): Promise<{ catalogEntry: AgentCatalog; modelAccess: AgentModelAccess }> {
  const organizationId = ctx.db.organizationId;
  const modelName = requiredText(input.modelName, 'input.modelName', STRING_MAX);
  const displayName = optionalText(input.displayName, 'input.displayName', 200);
  const member = chosenMember(input.config);
  const config = mergeConfig(member, input.config[member] as Record<string, unknown>, {});
  const modelProvider = MEMBERS[member].provider;
  try {
    return await op.commit(async (tx) => {
      const duplicate = await tx.agentCatalog.findFirst({
        where: { organizationId, customProviderId: null, modelProvider, modelName },
        select: { id: true },
      });
      if (duplicate) throw conflict(`a ${modelProvider} entry named ${modelName} already exists`);
      const catalogEntry = await tx.agentCatalog.create({
        data: { organizationId, modelProvider, modelName, displayName, modelMetadata: { [CONFIG_KEY]: config } },
      });
      op.resourceId = catalogEntry.id;
      const modelAccess = await tx.agentModelAccess.create({
        data: { organizationId, workspaceId: null, catalogId: catalogEntry.id },
      });
      return { catalogEntry, modelAccess };
    });
  } catch (error) {
    // Two identical creates racing: the loser's insert hits the unique index.
    if (isUniqueViolation(error)) throw conflict(`a ${modelProvider} entry named ${modelName} already exists`);
    throw error;
  }
}

/** The caller's own ORGANIZATION entry (platform, foreign and discovered rows do not exist here). */
async function ownCloudEntry(tx: Prisma.TransactionClient, organizationId: string, id: string) {
  const row = await tx.agentCatalog.findFirst({ where: { id, organizationId, customProviderId: null } });
  if (!row) throw notFound('CatalogEntry');
  return row;
}

/**
 * Update (SPEC §3, §14): the caller's ORGANIZATION and CUSTOM_PROVIDER entries; a
 * discovered entry has no config, only its displayName and overrides change.
 */
async function updateEntry(
  ctx: Context,
  op: AuditedOperation,
  input: { id: string; displayName?: string | null; config?: ConfigInput | null; overrides?: ModelOverridesInputShape | null },
): Promise<AgentCatalog> {
  const organizationId = ctx.db.organizationId;
  const id = parseId(input.id, 'CatalogEntry', 'input.id');
  op.resourceId = id;
  const displayName = 'displayName' in input ? optionalText(input.displayName, 'input.displayName', 200) : undefined;
  const member = input.config != null ? chosenMember(input.config) : null;
  const overrides = 'overrides' in input ? declaredOverrides(input.overrides, 'input.overrides') : undefined;
  return op.commit(async (tx) => {
    // Platform rows (organization null) and other organizations' rows do not exist here.
    const row = await tx.agentCatalog.findFirst({ where: { id, organizationId } });
    if (!row) throw notFound('CatalogEntry');
    const data: Prisma.AgentCatalogUpdateInput = {};
    if (displayName !== undefined) data.displayName = displayName;
    if (overrides !== undefined) data.overrides = overrides ?? Prisma.DbNull;
    if (member) {
      if (originOf(row) !== 'ORGANIZATION') {
        throw badInput('input.config', 'a discovered entry has no config; only displayName and overrides may change');
      }
      if (MEMBERS[member].provider !== row.modelProvider) {
        throw badInput('input.config', `this entry's provider is ${row.modelProvider}; give its own config member`);
      }
      const merged = mergeConfig(member, input.config![member] as Record<string, unknown>, { ...(storedConfig(row) ?? {}) });
      data.modelMetadata = { ...asMetadata(row.modelMetadata), [CONFIG_KEY]: merged };
    }
    return tx.agentCatalog.update({ where: { id: row.id }, data });
  });
}

async function deleteEntry(ctx: Context, op: AuditedOperation, globalId: string): Promise<string> {
  const organizationId = ctx.db.organizationId;
  const id = parseId(globalId, 'CatalogEntry', 'input.id');
  op.resourceId = id;
  await op.commit(async (tx) => {
    await ownCloudEntry(tx, organizationId, id);
    await tx.agentCatalog.delete({ where: { id } });
  });
  return encodeGlobalId('CatalogEntry', id);
}

// ---------------------------------------------------------------- mutations

const CreateCatalogEntryInput = builder.inputType('CreateCatalogEntryInput', {
  fields: (t) => ({
    modelName: t.string({ required: true }),
    displayName: t.string(),
    config: t.field({ type: CloudModelConfigInput, required: true }),
  }),
});
const CreateCatalogEntryPayload = builder
  .objectRef<{ catalogEntry: AgentCatalog; modelAccess: AgentModelAccess }>('CreateCatalogEntryPayload')
  .implement({
    fields: (t) => ({
      catalogEntry: t.field({ type: CatalogEntryRef, resolve: (p) => p.catalogEntry }),
      modelAccess: t.field({
        type: ModelAccessRef,
        description: 'The organization-level grant created with the entry.',
        resolve: (p) => p.modelAccess,
      }),
    }),
  });
defineMutation('createCatalogEntry', {
  access: access(['agent:create']),
  audit: { resourceType: 'agent_catalog', action: 'create' },
  repeatable: true,
  input: CreateCatalogEntryInput,
  payload: CreateCatalogEntryPayload,
  resolve: (input, ctx, op) => createEntry(ctx, op, input as never),
});

const UpdateCatalogEntryInput = builder.inputType('UpdateCatalogEntryInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    displayName: t.string({ description: 'Absent: unchanged. null: cleared.' }),
    config: t.field({
      type: CloudModelConfigInput,
      description: "Must name the entry's own provider. Fields merge into the stored config. ORGANIZATION entries only.",
    }),
    overrides: t.field({
      type: ModelOverridesInput,
      description:
        '(v2) ORGANIZATION and CUSTOM_PROVIDER entries. Absent: unchanged. null: every override removed. Given: replaces the declared overrides as a whole.',
    }),
  }),
});
const UpdateCatalogEntryPayload = builder.objectRef<{ catalogEntry: AgentCatalog }>('UpdateCatalogEntryPayload').implement({
  fields: (t) => ({ catalogEntry: t.field({ type: CatalogEntryRef, resolve: (p) => p.catalogEntry }) }),
});
defineMutation('updateCatalogEntry', {
  access: access(['agent:update']),
  audit: { resourceType: 'agent_catalog', action: 'update' },
  repeatable: true,
  input: UpdateCatalogEntryInput,
  payload: UpdateCatalogEntryPayload,
  resolve: async (input, ctx, op) => ({ catalogEntry: await updateEntry(ctx, op, input as never) }),
});

const DeleteCatalogEntryInput = builder.inputType('DeleteCatalogEntryInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});
defineMutation('deleteCatalogEntry', {
  access: access(['agent:delete']),
  audit: { resourceType: 'agent_catalog', action: 'delete' },
  repeatable: true,
  input: DeleteCatalogEntryInput,
  payload: deletePayload('DeleteCatalogEntryPayload'),
  resolve: async (input, ctx, op) => ({ deletedId: await deleteEntry(ctx, op, input.id) }),
});
