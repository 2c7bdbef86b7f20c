import { builder, access, type BuilderTypes } from '../../graphql/builder.ts';
import { defineMutation } from '../../graphql/mutation.ts';
import type { AgentCustomProvider } from '../../generated/prisma/client.ts';
import { CatalogEntryConnection, CatalogEntryRef } from '../catalog/schema.ts';
import * as providers from './service.ts';
import { connectionOf } from '../../graphql/connections.ts';
import { CustomProviderRef } from './types.ts';
import { bounded } from '../../graphql/input-bounds.ts';
import { MAX_API_KEY_LENGTH, MAX_HEADER_NAME_LENGTH, MAX_HEADER_VALUE_LENGTH, MAX_HEADERS } from './validation.ts';

export const CustomProviderConnection = connectionOf(CustomProviderRef, 'CustomProvider');

// ---------------------------------------------------------------- queries and mutations

builder.objectField(CustomProviderRef, 'models', (t) =>
  t.connection(
    {
      type: CatalogEntryRef,
      description: 'Catalog entries discovered from this provider.',
      resolve: (provider, args, ctx) => providers.listProviderModels(ctx, provider.id, args),
    },
    CatalogEntryConnection,
  ),
);

builder.queryField('customProviders', (t) =>
  t.connection(
    { type: CustomProviderRef, ...access(['agent:read']), resolve: (_root, args, ctx) => providers.listProviders(ctx, args) },
    CustomProviderConnection,
  ),
);

const HeaderInput = builder.inputType('HeaderInput', {
  fields: (t) => ({
    name: t.string({ required: true, ...bounded({ maxLength: MAX_HEADER_NAME_LENGTH }) }),
    value: t.string({ required: true, ...bounded({ maxLength: MAX_HEADER_VALUE_LENGTH }) }),
  }),
});

type InputFields = PothosSchemaTypes.InputFieldBuilder<BuilderTypes, 'InputObject'>;
const apiKeyField = (t: InputFields) => t.string(bounded({ maxLength: MAX_API_KEY_LENGTH }));
const customHeadersField = (t: InputFields) => t.field({ type: [HeaderInput], ...bounded({ maxItems: MAX_HEADERS }) });

const settingsFields = (t: InputFields) => ({
  baseUrl: t.string(),
  passthrough: t.boolean(),
  apiKeyHeader: t.string(),
  apiKey: apiKeyField(t),
  customHeaders: customHeadersField(t),
});

type ProviderPayload = { customProvider: AgentCustomProvider };
const providerPayload = (name: string) =>
  builder.objectRef<ProviderPayload>(name).implement({
    fields: (t) => ({ customProvider: t.field({ type: CustomProviderRef, resolve: (p) => p.customProvider }) }),
  });

const CreateCustomProviderInput = builder.inputType('CreateCustomProviderInput', {
  fields: (t) => ({ displayName: t.string({ required: true }), ...settingsFields(t) }),
});
defineMutation('createCustomProvider', {
  access: access(['agent:create']),
  audit: { resourceType: 'agent_custom_provider', action: 'create' },
  // Providers have no unique name: a second create makes a second one.
  repeatable: false,
  input: CreateCustomProviderInput,
  payload: providerPayload('CreateCustomProviderPayload'),
  resolve: async (input, ctx, op) => ({ customProvider: await providers.createProvider(ctx, op, input) }),
});

const UpdateCustomProviderInput = builder.inputType('UpdateCustomProviderInput', {
  description:
    'Absent fields are left as they are. null clears a nullable field; apiKey: null or "" removes the key, customHeaders: null or [] removes all headers. displayName and passthrough cannot be null.',
  fields: (t) => ({ id: t.id({ required: true }), displayName: t.string(), ...settingsFields(t) }),
});
defineMutation('updateCustomProvider', {
  access: access(['agent:update']),
  audit: { resourceType: 'agent_custom_provider', action: 'update' },
  repeatable: true,
  input: UpdateCustomProviderInput,
  payload: providerPayload('UpdateCustomProviderPayload'),
  resolve: async (input, ctx, op) => ({ customProvider: await providers.updateProvider(ctx, op, input) }),
});

const DeleteCustomProviderInput = builder.inputType('DeleteCustomProviderInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});
const DeleteCustomProviderPayload = builder
  .objectRef<{ deletedId: string; deletedModelCount: number }>('DeleteCustomProviderPayload')
  .implement({
    fields: (t) => ({
      deletedId: t.exposeID('deletedId'),
      deletedModelCount: t.exposeInt('deletedModelCount', { description: 'Catalog entries removed with the provider.' }),
    }),
  });
defineMutation('deleteCustomProvider', {
  access: access(['agent:delete']),
  audit: { resourceType: 'agent_custom_provider', action: 'delete' },
  repeatable: true,
  input: DeleteCustomProviderInput,
  payload: DeleteCustomProviderPayload,
  resolve: (input, ctx, op) => providers.deleteProvider(ctx, op, input.id),
});

const RefreshCustomProviderInput = builder.inputType('RefreshCustomProviderInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});
const RefreshCustomProviderPayload = builder
  .objectRef<ProviderPayload & { upsertedCount: number; removedCount: number }>('RefreshCustomProviderPayload')
  .implement({
    fields: (t) => ({
      customProvider: t.field({ type: CustomProviderRef, resolve: (p) => p.customProvider }),
      upsertedCount: t.exposeInt('upsertedCount', { description: "Models in the provider's answer that were inserted or updated." }),
      removedCount: t.exposeInt('removedCount', { description: 'Models no longer offered by the provider, removed from the catalog.' }),
    }),
  });
defineMutation('refreshCustomProvider', {
  access: access(['agent:update']),
  audit: { resourceType: 'agent_custom_provider', action: 'refresh' },
  repeatable: true,
  input: RefreshCustomProviderInput,
  payload: RefreshCustomProviderPayload,
  resolve: (input, ctx, op) => providers.refreshProvider(ctx, op, input.id),
});

const ValidateCustomProviderInput = builder.inputType('ValidateCustomProviderInput', {
  fields: (t) => ({
    id: t.id({ description: 'Validate a stored provider (with its stored secrets) ...' }),
    baseUrl: t.string({ description: '... or these unsaved settings.' }),
    apiKeyHeader: t.string(),
    apiKey: apiKeyField(t),
    customHeaders: customHeadersField(t),
  }),
});
const ValidateCustomProviderPayload = builder
  .objectRef<{ valid: boolean; httpStatus: number | null; modelCount: number | null; error: string | null }>('ValidateCustomProviderPayload')
  .implement({
    fields: (t) => ({
      valid: t.exposeBoolean('valid'),
      httpStatus: t.exposeInt('httpStatus', { nullable: true, description: "HTTP status of the provider's answer, when there was one." }),
      modelCount: t.exposeInt('modelCount', { nullable: true, description: 'Number of models the provider listed, when the answer could be read.' }),
      error: t.exposeString('error', { nullable: true, description: 'Why the provider is not valid; null when valid.' }),
    }),
  });
defineMutation('validateCustomProvider', {
  access: access(['agent:create']),
  audit: { resourceType: 'agent_custom_provider', action: 'validate' },
  repeatable: true,
  input: ValidateCustomProviderInput,
  payload: ValidateCustomProviderPayload,
  resolve: (input, ctx, op) => providers.validateProvider(ctx, op, input),
});
