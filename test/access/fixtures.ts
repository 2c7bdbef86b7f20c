import crypto from 'node:crypto';
import { encodeGlobalId } from '../../src/graphql/builder.ts';
import { scopedTransaction, type Tx } from '../../src/db/scope.ts';
import { sealProviderSecrets, type ProviderSecrets } from '../../src/modules/providers/secrets.ts';
import { ok, type TestApp } from '../support/harness.ts';
import { EnableModelDocument } from '../generated/graphql.ts';
import { feedHead, readFeed, type SeenEvent } from '../changes/feed-client.ts';

/**
 * Direct inserts for the rows these tests need (catalog entries, custom providers,
 * workspaces, settings), written through the same tenant / platform scopes as the
 * service so that row-level security applies to the fixtures too.
 */
export function fixtures(t: TestApp) {
  const prisma = t.services.database.prisma;
  const tenant = <T>(organizationId: string, fn: (tx: Tx) => Promise<T>) =>
    scopedTransaction(prisma, { kind: 'tenant', organizationId }, fn);
  const platform = <T>(fn: (tx: Tx) => Promise<T>) => scopedTransaction(prisma, { kind: 'platform' }, fn);

  return {
    tenant,
    platform,
    /** A platform row; the provider name is made unique unless given, so seeded rows never collide. */
    platformEntry: (modelName: string, modelProvider = `test-platform-${unique()}`) =>
      platform((tx) => tx.agentCatalog.create({ data: { modelProvider, modelName } })),
    orgEntry: (organizationId: string, modelName: string, modelProvider = 'bedrock') =>
      tenant(organizationId, (tx) => tx.agentCatalog.create({ data: { organizationId, modelProvider, modelName } })),
    customProvider: (
      organizationId: string,
      options: { baseUrl?: string; apiKeyHeader?: string; passthrough?: boolean; secrets?: ProviderSecrets } = {},
    ) =>
      tenant(organizationId, (tx) =>
        tx.agentCustomProvider.create({
          data: {
            organizationId,
            displayName: 'Gateway',
            baseUrl: options.baseUrl ?? 'http://127.0.0.1:9/v1',
            apiKeyHeader: options.apiKeyHeader ?? null,
            passthrough: options.passthrough ?? false,
            encryptedConfig: sealProviderSecrets(t.services.secretBox, options.secrets ?? {}),
          },
        }),
      ),
    customEntry: (organizationId: string, customProviderId: string, modelName: string) =>
      tenant(organizationId, (tx) =>
        tx.agentCatalog.create({
          data: { organizationId, customProviderId, modelProvider: 'custom-model-provider', modelName },
        }),
      ),
    workspace: (organizationId: string, name = `ws-${unique()}`) =>
      tenant(organizationId, (tx) => tx.workspace.create({ data: { organizationId, name } })),
    /** Grants written directly, for bulk fixtures. */
    grant: (organizationId: string, catalogIds: string[], workspaceId: string | null = null) =>
      tenant(organizationId, (tx) =>
        tx.agentModelAccess.createMany({ data: catalogIds.map((catalogId) => ({ organizationId, workspaceId, catalogId })) }),
      ),
    grantsOf: (organizationId: string) =>
      tenant(organizationId, (tx) => tx.agentModelAccess.findMany({ where: { organizationId } })),
    setting: (organizationId: string, key: string, value: unknown) =>
      tenant(organizationId, (tx) =>
        tx.organizationSetting.upsert({
          where: { organizationId_key: { organizationId, key } },
          create: { organizationId, key, value: value as never },
          update: { value: value as never },
        }),
      ),
    settingsOf: (organizationId: string) =>
      tenant(organizationId, (tx) => tx.organizationSetting.findMany({ where: { organizationId }, orderBy: { key: 'asc' } })),
    deleteEntry: (organizationId: string, id: string) =>
      tenant(organizationId, (tx) => tx.agentCatalog.delete({ where: { id } })),
    auditEvents: (organizationId: string, resourceType: string) =>
      tenant(organizationId, (tx) =>
        tx.auditEvent.findMany({ where: { organizationId, resourceType }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
      ),
  };
}

export const unique = () => crypto.randomBytes(4).toString('hex');

export const catalogGid = (id: string) => encodeGlobalId('CatalogEntry', id);
export const workspaceGid = (id: string) => encodeGlobalId('Workspace', id);
export const grantGid = (id: string) => encodeGlobalId('ModelAccess', id);

/** Grants an entry through the API (organization-level without a workspace). */
export async function enableThroughApi(t: TestApp, token: string, catalogId: string, workspaceId?: string) {
  return ok(
    await t.request(
      EnableModelDocument,
      { catalogEntryId: catalogGid(catalogId), workspaceId: workspaceId ? workspaceGid(workspaceId) : null },
      { token },
    ),
  ).enableModel.modelAccess;
}

/**
 * Runs `fn`, then returns the events of the organization's feed that it made. Workspaces
 * created just before and after it mark where they start and end: the feed is read
 * until the second marker is readable (on PostgreSQL a transaction still open on the
 * server may hold the readable end back for a moment), and what lies between the
 * markers is `fn`'s, none included.
 */
export async function eventsOf(t: TestApp, organizationId: string, token: string, fn: () => Promise<unknown>): Promise<SeenEvent[]> {
  const mark = async () => encodeGlobalId('Workspace', (await fixtures(t).workspace(organizationId, `marker-${unique()}`)).id);
  const head = await feedHead(t, token);
  const start = await mark();
  await fn();
  const end = await mark();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const events = await readFeed(t, token, head);
    const at = (marker: string) => events.findIndex((event) => event.subjectType === 'WORKSPACE' && event.subjectId === marker);
    if (at(end) >= 0) return events.slice(at(start) + 1, at(end));
    if (Date.now() > deadline) throw new Error('the end marker did not become readable within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
