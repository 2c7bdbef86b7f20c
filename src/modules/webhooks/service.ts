import { Prisma, type WebhookDeliveryStatus, type WebhookEndpoint } from '../../generated/prisma/client.ts';
import { encodeGlobalId, parseId } from '../../graphql/builder.ts';
import type { Context } from '../../graphql/context.ts';
import { badInput, conflict, notFound } from '../../graphql/errors.ts';
import { hasSqlState } from '../../db/failures.ts';
import { newestFirst, paginate, type ConnectionArgs } from '../../graphql/pagination.ts';
import { optionalText } from '../../graphql/validation.ts';
import type { Tx } from '../../db/scope.ts';
import type { AuditedOperation } from '../audit/record.ts';
import { assertResumable, decodeCursor } from '../changes/position.ts';
import type { ChangeEventFilter } from '../changes/schema.ts';
import { WEBHOOKS_CHANNEL } from './dispatcher.ts';
import { generateSecret, currentSecret, sealSecrets } from './secrets.ts';
import { validateWebhookUrl } from './url.ts';

export const MAX_DESCRIPTION_LENGTH = 500;
/** Most events one replayWebhookEvents call queues. */
export const MAX_REPLAY = 10_000;

const endpointOrdering = newestFirst<WebhookEndpoint>('webhook-endpoints:created');
const deliveryOrdering = newestFirst<{ createdAt: Date; id: string }>('webhook-deliveries:created');

export function listEndpoints(ctx: Context, args: ConnectionArgs) {
  const where = { organizationId: ctx.db.organizationId };
  return paginate(
    endpointOrdering,
    args,
    where,
    (query) => ctx.db.transaction((tx) => tx.webhookEndpoint.findMany(query)),
    (query) => ctx.db.transaction((tx) => tx.webhookEndpoint.count(query)),
  );
}

export function listDeliveries(ctx: Context, endpointId: string, args: ConnectionArgs & { status?: WebhookDeliveryStatus | null }) {
  const where = { organizationId: ctx.db.organizationId, endpointId, ...(args.status ? { status: args.status } : {}) };
  return paginate(
    deliveryOrdering,
    { first: args.first, after: args.after },
    where,
    (query) => ctx.db.transaction((tx) => tx.webhookDelivery.findMany(query)),
    (query) => ctx.db.transaction((tx) => tx.webhookDelivery.count(query)),
  );
}

interface StoredFilter {
  filterSubjectTypes: string[];
  filterWorkspaceId: string | null;
}

/** The endpoint's filter as stored: no subject types means every kind (an empty list is refused). */
async function storedFilter(tx: Tx, organizationId: string, filter: ChangeEventFilter | null | undefined): Promise<StoredFilter> {
  let filterSubjectTypes: string[] = [];
  if (filter?.subjectTypes != null) {
    if (filter.subjectTypes.length === 0) throw badInput('input.filter.subjectTypes', 'give at least one subject type, or leave it out');
    filterSubjectTypes = [...new Set(filter.subjectTypes)];
  }
  let filterWorkspaceId: string | null = null;
  if (filter?.workspaceId != null) {
    filterWorkspaceId = parseId(filter.workspaceId, 'Workspace', 'input.filter.workspaceId');
    const workspace = await tx.workspace.findFirst({ where: { id: filterWorkspaceId, organizationId }, select: { id: true } });
    if (!workspace) throw notFound('Workspace');
  }
  return { filterSubjectTypes, filterWorkspaceId };
}

/**
 * Waits for the transactions recording events now, and holds back new ones until this
 * commits (see the migration); CONFLICT when writes never paused for a few seconds.
 */
async function endpointsChanging(tx: Tx): Promise<void> {
  try {
    await tx.$executeRaw`SELECT webhook_endpoints_changing()`;
  } catch (error) {
    if (hasSqlState(error, '55P03')) throw conflict('changes are being recorded without pause; retry shortly');
    throw error;
  }
}

async function ownEndpoint(tx: Tx, organizationId: string, id: string): Promise<WebhookEndpoint> {
  const endpoint = await tx.webhookEndpoint.findFirst({ where: { id, organizationId } });
  if (!endpoint) throw notFound('WebhookEndpoint');
  return endpoint;
}

export async function createEndpoint(
  ctx: Context,
  op: AuditedOperation,
  input: { url: string; description?: string | null; filter?: ChangeEventFilter | null },
) {
  const organizationId = ctx.db.organizationId;
  const url = validateWebhookUrl(input.url, 'input.url', ctx.services.config);
  const description = optionalText(input.description, 'input.description', MAX_DESCRIPTION_LENGTH);
  const secret = generateSecret();
  const webhookEndpoint = await op.commit(async (tx) => {
    const filter = await storedFilter(tx, organizationId, input.filter);
    await endpointsChanging(tx);
    const created = await tx.webhookEndpoint.create({
      data: { organizationId, url, description, ...filter, encryptedSecret: sealSecrets(ctx.services.secretBox, secret) },
    });
    op.resourceId = created.id;
    return created;
  });
  return { webhookEndpoint, secret };
}

/** Absent fields stay; description: null clears it; filter: null means every event; url and enabled cannot be null. */
export async function updateEndpoint(
  ctx: Context,
  op: AuditedOperation,
  input: { id: string; url?: string | null; description?: string | null; filter?: ChangeEventFilter | null; enabled?: boolean | null },
) {
  const organizationId = ctx.db.organizationId;
  const id = parseId(input.id, 'WebhookEndpoint', 'input.id');
  op.resourceId = id;
  if ('url' in input && input.url === null) throw badInput('input.url', 'cannot be null');
  if ('enabled' in input && input.enabled === null) throw badInput('input.enabled', 'cannot be null');
  const url = input.url != null ? validateWebhookUrl(input.url, 'input.url', ctx.services.config) : undefined;
  const description = 'description' in input ? optionalText(input.description, 'input.description', MAX_DESCRIPTION_LENGTH) : undefined;
  return op.commit(async (tx) => {
    // What decides which events it receives changes only under the lock.
    if ('filter' in input || input.enabled != null) await endpointsChanging(tx);
    const current = await ownEndpoint(tx, organizationId, id);
    const data: Prisma.WebhookEndpointUpdateInput = {};
    if (url !== undefined) data.url = url;
    if (description !== undefined) data.description = description;
    if ('filter' in input) {
      const filter = await storedFilter(tx, organizationId, input.filter);
      Object.assign(data, filter);
    }
    if (input.enabled === true && !current.enabled) Object.assign(data, { enabled: true, disabledReason: null, failingSince: null });
    if (input.enabled === false && current.enabled) Object.assign(data, { enabled: false, disabledReason: 'MANUAL' });
    return tx.webhookEndpoint.update({ where: { id }, data });
  });
}

/** A new secret; the previous one keeps signing for WEBHOOK_SECRET_OVERLAP_HOURS. */
export async function rotateSecret(ctx: Context, op: AuditedOperation, globalId: string) {
  const organizationId = ctx.db.organizationId;
  const id = parseId(globalId, 'WebhookEndpoint', 'input.id');
  op.resourceId = id;
  const secret = generateSecret();
  const webhookEndpoint = await op.commit(async (tx) => {
    const current = await ownEndpoint(tx, organizationId, id);
    const previous = currentSecret(ctx.services.secretBox, current.encryptedSecret);
    return tx.webhookEndpoint.update({
      where: { id },
      data: { encryptedSecret: sealSecrets(ctx.services.secretBox, secret, previous), secretRotatedAt: new Date() },
    });
  });
  return { webhookEndpoint, secret };
}

export async function deleteEndpoint(ctx: Context, op: AuditedOperation, globalId: string) {
  const organizationId = ctx.db.organizationId;
  const id = parseId(globalId, 'WebhookEndpoint', 'input.id');
  op.resourceId = id;
  await op.commit(async (tx) => {
    await ownEndpoint(tx, organizationId, id);
    await endpointsChanging(tx);
    await tx.webhookEndpoint.delete({ where: { id } });
  });
  return { deletedId: encodeGlobalId('WebhookEndpoint', id) };
}

/**
 * Queues again every event after `after` that the endpoint's filter matches (at most
 * MAX_REPLAY, oldest first), as new deliveries with the events' original webhook-ids;
 * wakes every instance's dispatcher on commit.
 */
export async function replayEvents(ctx: Context, op: AuditedOperation, input: { id: string; after: string }) {
  const organizationId = ctx.db.organizationId;
  const id = parseId(input.id, 'WebhookEndpoint', 'input.id');
  op.resourceId = id;
  const after = decodeCursor(input.after, 'input.after');
  assertResumable(after, ctx.services.changeFeed.options.retentionMs, 'input.after');
  const queuedCount = await op.commit(async (tx) => {
    await ownEndpoint(tx, organizationId, id);
    const queued = await tx.$executeRaw`
      INSERT INTO webhook_delivery (organization_id, endpoint_id, event_id, event_xid, subject_type, action, subject_id, workspace_id, occurred_at)
      SELECT w.organization_id, w.id, e.id, e.xid::text::bigint, e.subject_type::text, e.action::text, e.subject_id, e.workspace_id, e.occurred_at
        FROM webhook_endpoint w
        CROSS JOIN LATERAL (
          SELECT * FROM change_event e
           WHERE (e.organization_id = w.organization_id OR e.organization_id IS NULL)
             AND (e.xid, e.id) > (${String(after.xid)}::xid8, ${after.id})
             AND e.xid < change_feed_bound()
             AND (cardinality(w.filter_subject_types) = 0 OR e.subject_type::text = ANY (w.filter_subject_types))
             AND (w.filter_workspace_id IS NULL OR e.workspace_id = w.filter_workspace_id)
           ORDER BY e.xid, e.id LIMIT ${MAX_REPLAY}) e
       WHERE w.id = ${id}::uuid`;
    if (queued > 0) await tx.$executeRaw`SELECT pg_notify(${WEBHOOKS_CHANNEL}, '')`;
    return queued;
  });
  ctx.services.webhooks.wake();
  return { queuedCount };
}
