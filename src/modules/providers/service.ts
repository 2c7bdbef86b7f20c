import { encodeGlobalId, parseId } from '../../graphql/builder.ts';
import type { Context } from '../../graphql/context.ts';
import type { AgentCatalog, AgentCustomProvider, Prisma } from '../../generated/prisma/client.ts';
import { AppError, badInput, conflict, notFound } from '../../graphql/errors.ts';
import { paginate, type ConnectionArgs, type Ordering, newestFirst } from '../../graphql/pagination.ts';
import { requiredText } from '../../graphql/validation.ts';
import type { AuditedOperation } from '../audit/record.ts';
import type { Tx } from '../../db/scope.ts';
import { ConnectionLost } from '../../db/failures.ts';
import { batchedCatalogConnection } from '../catalog/batched-page.ts';
import { catalogSeenBy } from '../access/effective.ts';
import { discoverModels, type DiscoveryResult, type DiscoveryTarget } from './discovery.ts';
import type { DiscoveryKind } from '../../observability/metrics.ts';
import { openProviderSecrets, sameSecrets, sealProviderSecrets, type Header, type ProviderSecrets } from './secrets.ts';
import { assertOutboundUrl } from '../../security/outbound-http.ts';
import { validateApiKey, validateBaseUrl, validateCustomHeaders, validateHeaderName } from './validation.ts';

export const DISCOVERED_PROVIDER = 'custom-model-provider';
/** A RUNNING refresh older than its timeout plus this margin was left by a crash. */
const STALE_MARGIN_MS = 5_000;

const providerOrdering = newestFirst<AgentCustomProvider>('provider:created');

export function listProviders(ctx: Context, args: ConnectionArgs) {
  const where = { organizationId: ctx.db.organizationId };
  return paginate(
    providerOrdering,
    args,
    where,
    (query) => ctx.db.transaction((tx) => tx.agentCustomProvider.findMany(query)),
    (query) => ctx.db.transaction((tx) => tx.agentCustomProvider.count(query)),
  );
}

const modelOrdering: Ordering<AgentCatalog> = {
  name: 'provider-models:name',
  keys: [
    { field: 'modelName', direction: 'asc', kind: 'string' },
    { field: 'id', direction: 'asc', kind: 'string' },
  ],
};

/**
 * One provider's catalog rows (for a workspace-bound token, those effective in its
 * workspace): a keyset query per provider, batched across the response.
 */
export function listProviderModels(ctx: Context, providerId: string, args: ConnectionArgs) {
  const own = { organizationId: ctx.db.organizationId, customProviderId: providerId };
  return batchedCatalogConnection(ctx, modelOrdering, args, ctx.principal.workspaceId ? { AND: [own, catalogSeenBy(ctx)] } : own);
}

interface SettingsInput {
  displayName?: string | null;
  baseUrl?: string | null;
  passthrough?: boolean | null;
  apiKeyHeader?: string | null;
  apiKey?: string | null;
  customHeaders?: Header[] | null;
}

async function ownProvider(tx: Tx, organizationId: string, id: string): Promise<AgentCustomProvider> {
  const provider = await tx.agentCustomProvider.findFirst({ where: { id, organizationId } });
  if (!provider) throw notFound('CustomProvider');
  return provider;
}

/** A base URL to store: valid, and not pointing at a cloud metadata service (SPEC §17). */
function optionalBaseUrl(value: string | null | undefined): string | null {
  if (value == null || value.trim() === '') return null;
  const baseUrl = validateBaseUrl(value, 'input.baseUrl');
  assertOutboundUrl(new URL(baseUrl), 'input.baseUrl');
  return baseUrl;
}

/** scheme://host:port, normalized (case, default ports, IPv4 spellings); null for no URL. */
const originOf = (baseUrl: string | null) => (baseUrl ? new URL(baseUrl).origin : null);

/**
 * Credentials follow their origin (SPEC §17): moving `baseUrl` to another origin needs
 * every stored secret given again in the same call (a new value, or null to remove it),
 * so that whoever may edit a provider but not read its credentials cannot send them
 * elsewhere. Clearing the URL sends them nowhere and needs nothing.
 */
function assertCredentialsFollow(current: AgentCustomProvider, stored: ProviderSecrets, baseUrl: string | null | undefined, input: SettingsInput) {
  if (baseUrl === undefined || baseUrl === null || originOf(baseUrl) === originOf(current.baseUrl)) return;
  const missing = [
    ...(stored.apiKey && !('apiKey' in input) ? ['input.apiKey'] : []),
    ...(stored.customHeaders?.length && !('customHeaders' in input) ? ['input.customHeaders'] : []),
  ];
  if (missing.length === 0) return;
  throw new AppError(
    'BAD_USER_INPUT',
    `${missing.join(', ')}: moving baseUrl to another origin (${originOf(baseUrl)}) needs the stored credentials given in the same call: ` +
      `${missing.map((field) => (field === 'input.apiKey' ? 'apiKey (a new key, or null to remove it)' : 'customHeaders (new ones, or null or [] to remove them)')).join(' and ')}`,
    { argument: missing[0], fields: missing },
  );
}
const optionalKeyHeader = (value: string | null | undefined) =>
  value == null || value.trim() === '' ? null : validateHeaderName(value.trim(), 'input.apiKeyHeader');

export async function createProvider(ctx: Context, op: AuditedOperation, input: SettingsInput) {
  const organizationId = ctx.db.organizationId;
  const displayName = requiredText(input.displayName, 'input.displayName', 200);
  const baseUrl = optionalBaseUrl(input.baseUrl);
  const apiKeyHeader = optionalKeyHeader(input.apiKeyHeader);
  const secrets: ProviderSecrets = {
    apiKey: input.apiKey ? validateApiKey(input.apiKey, 'input.apiKey') : undefined,
    customHeaders: validateCustomHeaders(input.customHeaders ?? [], apiKeyHeader, 'input.customHeaders'),
  };
  return op.commit(async (tx) => {
    const provider = await tx.agentCustomProvider.create({
      data: {
        organizationId,
        displayName,
        baseUrl,
        apiKeyHeader,
        passthrough: input.passthrough ?? false,
        encryptedConfig: sealProviderSecrets(ctx.services.secretBox, secrets),
      },
    });
    op.resourceId = provider.id;
    return provider;
  });
}

/** Merge semantics of SPEC §4: absent keeps, null clears; secrets are merged one by one. */
export async function updateProvider(ctx: Context, op: AuditedOperation, input: SettingsInput & { id: string }) {
  const organizationId = ctx.db.organizationId;
  const id = parseId(input.id, 'CustomProvider', 'input.id');
  op.resourceId = id;
  if ('displayName' in input && input.displayName === null) throw badInput('input.displayName', 'cannot be null');
  if ('passthrough' in input && input.passthrough === null) throw badInput('input.passthrough', 'cannot be null');
  const displayName = input.displayName !== undefined ? requiredText(input.displayName, 'input.displayName', 200) : undefined;
  const baseUrl = 'baseUrl' in input ? optionalBaseUrl(input.baseUrl) : undefined;
  const apiKeyHeader = 'apiKeyHeader' in input ? optionalKeyHeader(input.apiKeyHeader) : undefined;
  return op.commit(async (tx) => {
    const current = await ownProvider(tx, organizationId, id);
    const stored = openProviderSecrets(ctx.services.secretBox, current.encryptedConfig);
    assertCredentialsFollow(current, stored, baseUrl, input);
    const keyHeader = apiKeyHeader !== undefined ? apiKeyHeader : current.apiKeyHeader;
    const secrets: ProviderSecrets = {
      apiKey: 'apiKey' in input ? (input.apiKey ? validateApiKey(input.apiKey, 'input.apiKey') : undefined) : stored.apiKey,
      customHeaders:
        'customHeaders' in input
          ? validateCustomHeaders(input.customHeaders ?? [], keyHeader, 'input.customHeaders')
          : validateCustomHeaders(stored.customHeaders ?? [], keyHeader, 'input.apiKeyHeader'),
    };
    const data: Prisma.AgentCustomProviderUpdateInput = {};
    // Sealed anew only when they changed: a fresh ciphertext would be a change of its own.
    if (!sameSecrets(stored, secrets)) data.encryptedConfig = sealProviderSecrets(ctx.services.secretBox, secrets);
    if (displayName !== undefined) data.displayName = displayName;
    if (baseUrl !== undefined) data.baseUrl = baseUrl;
    if (apiKeyHeader !== undefined) data.apiKeyHeader = apiKeyHeader;
    if (input.passthrough != null) data.passthrough = input.passthrough;
    return tx.agentCustomProvider.update({ where: { id }, data });
  });
}

export async function deleteProvider(ctx: Context, op: AuditedOperation, globalId: string) {
  const organizationId = ctx.db.organizationId;
  const id = parseId(globalId, 'CustomProvider', 'input.id');
  op.resourceId = id;
  const deletedModelCount = await op.commit(async (tx) => {
    await ownProvider(tx, organizationId, id);
    const models = await tx.agentCatalog.count({ where: { organizationId, customProviderId: id } });
    await tx.agentCustomProvider.delete({ where: { id } });
    return models;
  });
  return { deletedId: encodeGlobalId('CustomProvider', id), deletedModelCount };
}

function target(ctx: Context, provider: Pick<AgentCustomProvider, 'baseUrl' | 'apiKeyHeader' | 'encryptedConfig'>): DiscoveryTarget {
  const secrets = openProviderSecrets(ctx.services.secretBox, provider.encryptedConfig);
  return { baseUrl: provider.baseUrl!, apiKeyHeader: provider.apiKeyHeader, apiKey: secrets.apiKey, customHeaders: secrets.customHeaders };
}

/** One request to a provider's model list, measured by kind and outcome. */
async function discover(ctx: Context, kind: DiscoveryKind, discoveryTarget: DiscoveryTarget, timeoutMs: number): Promise<DiscoveryResult> {
  const started = performance.now();
  const result = await discoverModels(discoveryTarget, { timeoutMs, denyPrivateNetworks: ctx.services.config.DISCOVERY_DENY_PRIVATE_NETWORKS });
  ctx.services.metrics?.discoveryFinished(kind, result.ok ? 'succeeded' : result.reason, (performance.now() - started) / 1000);
  return result;
}

/**
 * Refresh (SPEC §4): claim the run atomically (safe across instances), call the
 * provider outside any transaction, then apply the answer in one audited transaction,
 * or record the failure and answer UPSTREAM_ERROR.
 */
export async function refreshProvider(ctx: Context, op: AuditedOperation, globalId: string) {
  const organizationId = ctx.db.organizationId;
  const id = parseId(globalId, 'CustomProvider', 'input.id');
  op.resourceId = id;
  const timeoutMs = ctx.services.config.DISCOVERY_REFRESH_TIMEOUT_MS;
  const staleBefore = new Date(Date.now() - timeoutMs - STALE_MARGIN_MS);
  const provider = await ctx.db.write(async (tx) => {
    const current = await ownProvider(tx, organizationId, id);
    if (!current.baseUrl) throw badInput('input.id', 'the provider has no baseUrl to discover models from');
    const claimed = await tx.agentCustomProvider.updateMany({
      where: {
        id,
        organizationId,
        NOT: { discoveryStatus: 'RUNNING', lastDiscoveryStartedAt: { gt: staleBefore } },
      },
      data: { discoveryStatus: 'RUNNING', lastDiscoveryStartedAt: new Date() },
    });
    if (claimed.count === 0) throw conflict('a refresh of this provider is already running');
    return current;
  });

  const result = await discover(ctx, 'refresh', target(ctx, provider), timeoutMs);
  if (!result.ok) {
    await ctx.db.write((tx) =>
      tx.agentCustomProvider.update({ where: { id }, data: { discoveryStatus: 'FAILED', lastDiscoveryError: result.error } }),
    );
    throw new AppError('UPSTREAM_ERROR', `discovery failed: ${result.error}`, { httpStatus: result.httpStatus });
  }
  try {
    return await op.commit((tx) => applyDiscovery(tx, organizationId, id, result.models));
  } catch (error) {
    // After an unknown outcome the models may be stored: the claim then goes stale by itself.
    if (!(error instanceof ConnectionLost && error.outcome === 'unknown')) {
      await ctx.db
        .write((tx) =>
          tx.agentCustomProvider.update({ where: { id }, data: { discoveryStatus: 'FAILED', lastDiscoveryError: 'could not store the discovered models' } }),
        )
        .catch((recording: unknown) => ctx.logger.warn({ err: recording, requestId: ctx.requestId }, 'could not record the failed refresh'));
    }
    throw error;
  }
}

async function applyDiscovery(tx: Tx, organizationId: string, providerId: string, models: { name: string; metadata: Record<string, unknown> }[]) {
  const rows = JSON.stringify(models.map((m) => ({ n: m.name, m: m.metadata })));
  await tx.$executeRaw`
    INSERT INTO agent_catalog (organization_id, custom_provider_id, model_provider, model_name, model_metadata, last_refreshed_at, updated_at)
    SELECT ${organizationId}::uuid, ${providerId}::uuid, ${DISCOVERED_PROVIDER}, r.n, r.m, now(), now()
    FROM jsonb_to_recordset(${rows}::jsonb) AS r(n text, m jsonb)
    ON CONFLICT (organization_id, custom_provider_id, model_provider, model_name)
    DO UPDATE SET model_metadata = EXCLUDED.model_metadata, last_refreshed_at = now(), updated_at = now()
    WHERE agent_catalog.model_metadata IS DISTINCT FROM EXCLUDED.model_metadata`;
  const names = models.map((m) => m.name);
  const { count: removedCount } = await tx.agentCatalog.deleteMany({
    where: { organizationId, customProviderId: providerId, modelName: { notIn: names } },
  });
  await tx.$executeRaw`
    INSERT INTO agent_model_access (organization_id, workspace_id, catalog_id)
    SELECT ${organizationId}::uuid, NULL, c.id FROM agent_catalog c
    WHERE c.organization_id = ${organizationId}::uuid AND c.custom_provider_id = ${providerId}::uuid
    ON CONFLICT (organization_id, workspace_id, catalog_id) DO NOTHING`;
  const customProvider = await tx.agentCustomProvider.update({
    where: { id: providerId },
    data: { discoveryStatus: 'SUCCEEDED', lastRefreshedAt: new Date(), lastDiscoveryError: null },
  });
  return { customProvider, upsertedCount: models.length, removedCount };
}

export async function validateProvider(
  ctx: Context,
  op: AuditedOperation,
  input: { id?: string | null; baseUrl?: string | null; apiKeyHeader?: string | null; apiKey?: string | null; customHeaders?: Header[] | null },
) {
  const organizationId = ctx.db.organizationId;
  let discoveryTarget: DiscoveryTarget;
  if (input.id != null) {
    const id = parseId(input.id, 'CustomProvider', 'input.id');
    op.resourceId = id;
    const provider = await ctx.db.transaction((tx) => ownProvider(tx, organizationId, id));
    if (!provider.baseUrl) throw badInput('input.id', 'the provider has no baseUrl');
    discoveryTarget = target(ctx, provider);
  } else {
    if (!input.baseUrl) throw badInput('input.baseUrl', 'give id or baseUrl');
    const apiKeyHeader = optionalKeyHeader(input.apiKeyHeader);
    discoveryTarget = {
      baseUrl: validateBaseUrl(input.baseUrl, 'input.baseUrl'),
      apiKeyHeader,
      apiKey: input.apiKey ? validateApiKey(input.apiKey, 'input.apiKey') : undefined,
      customHeaders: validateCustomHeaders(input.customHeaders ?? [], apiKeyHeader, 'input.customHeaders'),
    };
  }
  const result = await discover(ctx, 'validate', discoveryTarget, ctx.services.config.DISCOVERY_VALIDATE_TIMEOUT_MS);
  // Nothing is stored but the audit event.
  await op.commit(async () => undefined);
  return result.ok
    ? { valid: result.httpStatus === 200, httpStatus: result.httpStatus, modelCount: result.models.length, error: result.httpStatus === 200 ? null : `provider answered HTTP ${result.httpStatus}` }
    : { valid: false, httpStatus: result.httpStatus, modelCount: null, error: result.error };
}
