import { builder, access, parseId, NOT_CACHED } from '../../graphql/builder.ts';
import { CatalogEntryRef } from '../catalog/schema.ts';
import type { Header } from '../providers/secrets.ts';
import * as runtime from './service.ts';

const HeaderRef = builder.objectRef<Header>('Header').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    value: t.exposeString('value'),
  }),
});

export const ResolvedModelConfigRef = builder.objectRef<runtime.ResolvedModelConfig>('ResolvedModelConfig').implement({
  description: 'Everything an agent runtime needs to call a model. Contains secrets.',
  fields: (t) => ({
    catalogEntry: t.field({ type: CatalogEntryRef, resolve: (config) => config.catalogEntry }),
    modelProvider: t.exposeString('modelProvider'),
    modelName: t.exposeString('modelName'),
    baseUrl: t.exposeString('baseUrl', { nullable: true }),
    passthrough: t.exposeBoolean('passthrough'),
    apiKeyHeader: t.exposeString('apiKeyHeader', {
      nullable: true,
      description: 'Header that carries the API key; null means Authorization: Bearer <key>.',
    }),
    apiKey: t.exposeString('apiKey', { nullable: true }),
    customHeaders: t.field({ type: [HeaderRef], resolve: (config) => config.customHeaders }),
  }),
});

builder.queryField('resolvedModelConfig', (t) =>
  t.field({
    type: ResolvedModelConfigRef,
    description:
      'The runtime configuration of a model the workspace (or, without workspaceId, the organization) may use. ' +
      'A workspace-bound token may only ask for its own workspace. Every call is audited.',
    ...access(['agent:credentials:read'], { workspaceTokens: true }),
    // Not cached: it holds secrets and every call writes an audit record.
    ...NOT_CACHED,
    args: {
      catalogEntryId: t.arg.id({ required: true }),
      workspaceId: t.arg.id(),
    },
    unauthorizedResolver: async (_root, _args, ctx, _info, error) => {
      await runtime.auditRefusedCredentialsRead(ctx, error);
      throw error;
    },
    resolve: (_root, args, ctx) =>
      runtime.resolveModelConfig(ctx, () => ({
        catalogId: parseId(args.catalogEntryId, 'CatalogEntry', 'catalogEntryId'),
        workspaceId: args.workspaceId == null ? null : parseId(args.workspaceId, 'Workspace', 'workspaceId'),
      })),
  }),
);
