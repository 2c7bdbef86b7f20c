import type { Context } from '../../graphql/context.ts';
import type { Tx } from '../../db/scope.ts';
import type { AgentCatalog, AgentCustomProvider } from '../../generated/prisma/client.ts';
import { conflict, forbidden, notFound } from '../../graphql/errors.ts';
import { outboundUrlRefusal } from '../../security/outbound-http.ts';
import { AuditedOperation } from '../audit/record.ts';
import { visibleTo } from '../catalog/filter.ts';
import { openProviderSecrets, type Header } from '../providers/secrets.ts';
import { assertOwnWorkspace, availableModelsWhere } from '../access/effective.ts';

/** Everything an agent runtime needs to call a model. Contains secrets. */
export interface ResolvedModelConfig {
  catalogEntry: AgentCatalog;
  modelProvider: string;
  modelName: string;
  baseUrl: string | null;
  passthrough: boolean;
  apiKeyHeader: string | null;
  apiKey: string | null;
  customHeaders: Header[];
}

/**
 * The runtime configuration of a catalog entry for a workspace (or for the
 * organization when none is given; a workspace-bound token always means its own).
 * Every call is audited as `agent_credentials read`, success or failure; only ids are
 * recorded, never the secrets. `parse` decodes the arguments inside the audited span,
 * so that malformed ids are recorded as failures too.
 */
export async function resolveModelConfig(
  ctx: Context,
  parse: () => { catalogId: string; workspaceId: string | null },
): Promise<ResolvedModelConfig> {
  const op = new AuditedOperation(ctx, { resourceType: 'agent_credentials', action: 'read' });
  try {
    const { catalogId, workspaceId: requested } = parse();
    const workspaceId = requested ?? ctx.principal.workspaceId;
    op.resourceId = catalogId;
    op.workspaceId = workspaceId;
    if (workspaceId) assertOwnWorkspace(ctx, workspaceId);
    const organizationId = ctx.db.organizationId;

    return await op.commit(async (tx) => {
      const entry = await tx.agentCatalog.findFirst({ where: { id: catalogId, ...visibleTo(organizationId) } });
      if (!entry) throw notFound('CatalogEntry');
      if (workspaceId) {
        const workspace = await tx.workspace.findFirst({
          where: { id: workspaceId, organizationId },
          select: { id: true },
        });
        if (!workspace) throw notFound('Workspace');
      }
      const available = await tx.agentCatalog.count({
        where: { id: entry.id, ...availableModelsWhere(organizationId, workspaceId) },
      });
      if (available === 0) {
        throw forbidden(`the model is not enabled for ${workspaceId ? 'this workspace' : 'the organization'}`);
      }

      const [config] = await runtimeConfigs(ctx, tx, [entry]);
      return config!;
    });
  } catch (error) {
    await op.fail(error);
    throw error;
  }
}

/** What a runtime configuration takes of a custom provider. */
export type ProviderSettings = Pick<AgentCustomProvider, 'baseUrl' | 'passthrough' | 'apiKeyHeader' | 'encryptedConfig'>;

/**
 * The runtime configuration of an entry the caller may use, with its custom provider
 * (null for platform and organization entries): the provider's base URL, passthrough,
 * key header, and its decrypted key and headers.
 */
export function runtimeConfig(ctx: Context, entry: AgentCatalog, provider: ProviderSettings | null): ResolvedModelConfig {
  const config: ResolvedModelConfig = {
    catalogEntry: entry,
    modelProvider: entry.modelProvider,
    modelName: entry.modelName,
    baseUrl: null,
    passthrough: false,
    apiKeyHeader: null,
    apiKey: null,
    customHeaders: [],
  };
  if (!entry.customProviderId) return config;
  // The composite foreign key keeps an entry's provider in its organization.
  if (!provider) throw new Error(`catalog entry ${entry.id} names a custom provider its organization cannot see`);
  // A base URL saved before metadata services were refused at save is refused here,
  // so that no runtime is handed one (no migration rewrites stored URLs).
  const refused = provider.baseUrl ? outboundUrlRefusal(new URL(provider.baseUrl)) : null;
  if (refused) throw conflict(`the provider's stored baseUrl is refused (${refused}); give it another with updateCustomProvider`);
  const secrets = openProviderSecrets(ctx.services.secretBox, provider.encryptedConfig);
  return {
    ...config,
    baseUrl: provider.baseUrl,
    passthrough: provider.passthrough,
    apiKeyHeader: provider.apiKeyHeader,
    apiKey: secrets.apiKey ?? null,
    customHeaders: secrets.customHeaders ?? [],
  };
}

/** The runtime configurations of entries the caller may use, in their order; one statement for all their providers. */
export async function runtimeConfigs(ctx: Context, tx: Tx, entries: readonly AgentCatalog[]): Promise<ResolvedModelConfig[]> {
  const providerIds = [...new Set(entries.flatMap((entry) => (entry.customProviderId ? [entry.customProviderId] : [])))];
  const providers =
    providerIds.length === 0
      ? []
      : await tx.agentCustomProvider.findMany({ where: { id: { in: providerIds }, organizationId: ctx.db.organizationId } });
  const byId = new Map(providers.map((provider) => [provider.id, provider]));
  return entries.map((entry) => runtimeConfig(ctx, entry, entry.customProviderId ? (byId.get(entry.customProviderId) ?? null) : null));
}

/** Records a call refused before it ran (missing scope, wrong kind of token). */
export function auditRefusedCredentialsRead(ctx: Context, error: unknown): Promise<void> {
  return new AuditedOperation(ctx, { resourceType: 'agent_credentials', action: 'read' }).fail(error);
}
