import { builder } from '../../graphql/builder.ts';
import { openProviderSecrets } from './secrets.ts';

// The CustomProvider type on its own, so that the catalog (whose entries name their
// provider) can use it without importing the providers' schema, which lists entries.

export const DiscoveryStatusEnum = builder.enumType('DiscoveryStatus', {
  values: ['NEVER', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const,
});

export const CustomProviderRef = builder.prismaNode('AgentCustomProvider', {
  name: 'CustomProvider',
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, organizationId: ctx.db.organizationId }),
  // node() answers null for an unknown or foreign id instead of failing.
  nullable: true,
  fields: (t) => ({
    databaseId: t.expose('id', { type: 'UUID' }),
    displayName: t.exposeString('displayName'),
    baseUrl: t.exposeString('baseUrl', { nullable: true }),
    passthrough: t.exposeBoolean('passthrough'),
    apiKeyHeader: t.exposeString('apiKeyHeader', {
      nullable: true,
      description: 'Header that carries the API key; null means Authorization: Bearer <key>.',
    }),
    hasApiKey: t.boolean({
      description: 'Whether an API key is stored. The key itself is never returned.',
      select: { encryptedConfig: true },
      resolve: (row, _args, ctx) => Boolean(openProviderSecrets(ctx.services.secretBox, row.encryptedConfig).apiKey),
    }),
    customHeaderNames: t.stringList({
      description: 'Names of the stored custom headers, sorted. Values are never returned.',
      select: { encryptedConfig: true },
      resolve: (row, _args, ctx) =>
        (openProviderSecrets(ctx.services.secretBox, row.encryptedConfig).customHeaders ?? [])
          .map((header) => header.name)
          .sort(),
    }),
    discoveryStatus: t.expose('discoveryStatus', { type: DiscoveryStatusEnum }),
    lastDiscoveryError: t.exposeString('lastDiscoveryError', {
      nullable: true,
      description: 'Why the last discovery failed; null unless discoveryStatus is FAILED.',
    }),
    lastDiscoveryStartedAt: t.expose('lastDiscoveryStartedAt', { type: 'DateTime', nullable: true }),
    lastRefreshedAt: t.expose('lastRefreshedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When discovery last succeeded.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});
