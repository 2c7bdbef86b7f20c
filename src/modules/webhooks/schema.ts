import { builder, access, encodeGlobalId, NOT_CACHED } from '../../graphql/builder.ts';
import { connectionOf } from '../../graphql/connections.ts';
import { bounded } from '../../graphql/input-bounds.ts';
import { defineMutation, deletePayload } from '../../graphql/mutation.ts';
import type { WebhookEndpoint } from '../../generated/prisma/client.ts';
import { ChangeEventFilterInput, ChangeSubjectEnum } from '../changes/schema.ts';
import type { ChangeSubject } from '../changes/feed.ts';
import { eventCursor, eventType, webhookId } from './payload.ts';
import * as webhooks from './service.ts';
import { MAX_URL_LENGTH } from './url.ts';

/** Every webhook type and field needs webhooks:manage; workspace-bound tokens never reach them. */
const MANAGE = access(['webhooks:manage']);

const WebhookDisabledReasonEnum = builder.enumType('WebhookDisabledReason', { values: ['MANUAL', 'GONE', 'FAILING'] as const });
const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', { values: ['PENDING', 'SUCCEEDED', 'FAILED'] as const });

const WebhookFilterRef = builder.objectRef<Pick<WebhookEndpoint, 'filterSubjectTypes' | 'filterWorkspaceId'>>('WebhookFilter').implement({
  fields: (t) => ({
    subjectTypes: t.field({
      type: [ChangeSubjectEnum],
      nullable: true,
      description: 'null: every kind of object.',
      resolve: (filter) => (filter.filterSubjectTypes.length > 0 ? (filter.filterSubjectTypes as ChangeSubject[]) : null),
    }),
    workspaceId: t.id({
      nullable: true,
      resolve: (filter) => (filter.filterWorkspaceId ? encodeGlobalId('Workspace', filter.filterWorkspaceId) : null),
    }),
  }),
});

export const WebhookDeliveryRef = builder.prismaNode('WebhookDelivery', {
  id: { field: 'id' },
  authScopes: MANAGE.authScopes,
  findUnique: (id, ctx) => ({ id, organizationId: ctx.db.organizationId }),
  nullable: true,
  fields: (t) => ({
    databaseId: t.expose('id', { type: 'UUID' }),
    webhookId: t.string({
      description: 'The webhook-id header: the same on every attempt and replay of this event to this endpoint.',
      resolve: (delivery) => webhookId(delivery.endpointId, delivery.eventId),
    }),
    eventCursor: t.string({
      description: 'The feed cursor of the event.',
      resolve: (delivery) => eventCursor(delivery),
    }),
    eventType: t.string({ description: 'e.g. model_access.created', resolve: (delivery) => eventType(delivery) }),
    status: t.expose('status', { type: WebhookDeliveryStatusEnum }),
    attempts: t.exposeInt('attempts'),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; null once SUCCEEDED or FAILED.',
      resolve: (delivery) => (delivery.status === 'PENDING' ? delivery.nextAttemptAt : null),
    }),
    lastResponseStatus: t.exposeInt('lastResponseStatus', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WebhookDeliveryConnection = builder.connectionObject({ type: WebhookDeliveryRef, name: 'WebhookDeliveryConnection' }, { name: 'WebhookDeliveryEdge' });

export const WebhookEndpointRef = builder.prismaNode('WebhookEndpoint', {
  id: { field: 'id' },
  description: '(v3) An HTTPS endpoint that receives the change feed as Standard Webhooks POSTs.',
  authScopes: MANAGE.authScopes,
  findUnique: (id, ctx) => ({ id, organizationId: ctx.db.organizationId }),
  nullable: true,
  fields: (t) => ({
    databaseId: t.expose('id', { type: 'UUID' }),
    url: t.exposeString('url'),
    description: t.exposeString('description', { nullable: true }),
    filter: t.field({
      type: WebhookFilterRef,
      nullable: true,
      description: 'null: every event of the organization (and the platform).',
      resolve: (endpoint) => (endpoint.filterSubjectTypes.length > 0 || endpoint.filterWorkspaceId ? endpoint : null),
    }),
    enabled: t.exposeBoolean('enabled'),
    disabledReason: t.expose('disabledReason', { type: WebhookDisabledReasonEnum, nullable: true }),
    failingSince: t.expose('failingSince', { type: 'DateTime', nullable: true, description: 'Since when every delivery has failed; null while it succeeds.' }),
    lastSuccessAt: t.expose('lastSuccessAt', { type: 'DateTime', nullable: true }),
    secretRotatedAt: t.expose('secretRotatedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deliveries: t.connection(
      {
        type: WebhookDeliveryRef,
        description: 'Newest first.',
        // Not cached: deliveries change with every attempt, which makes no change event.
        ...NOT_CACHED,
        args: { status: t.arg({ type: WebhookDeliveryStatusEnum }) },
        resolve: (endpoint, args, ctx) => webhooks.listDeliveries(ctx, endpoint.id, args),
      },
      WebhookDeliveryConnection,
    ),
  }),
});

const WebhookEndpointConnection = connectionOf(WebhookEndpointRef, 'WebhookEndpoint');

builder.queryField('webhookEndpoints', (t) =>
  t.connection(
    {
      type: WebhookEndpointRef,
      description: '(v3)',
      ...MANAGE,
      // Not cached: endpoints and their deliveries make no change events.
      ...NOT_CACHED,
      resolve: (_root, args, ctx) => webhooks.listEndpoints(ctx, args),
    },
    WebhookEndpointConnection,
  ),
);

type InputFields = PothosSchemaTypes.InputFieldBuilder<import('../../graphql/builder.ts').BuilderTypes, 'InputObject'>;
const urlBounds = bounded({ maxLength: MAX_URL_LENGTH });
const descriptionField = (t: InputFields) => t.string(bounded({ maxLength: webhooks.MAX_DESCRIPTION_LENGTH }));

type EndpointPayload = { webhookEndpoint: WebhookEndpoint };
const endpointField = (t: PothosSchemaTypes.ObjectFieldBuilder<import('../../graphql/builder.ts').BuilderTypes, EndpointPayload>) =>
  t.field({ type: WebhookEndpointRef, resolve: (payload) => payload.webhookEndpoint });
const secretField = (t: PothosSchemaTypes.ObjectFieldBuilder<import('../../graphql/builder.ts').BuilderTypes, { secret: string }>) =>
  t.exposeString('secret', { description: 'whsec_…: shown only here.' });

defineMutation('createWebhookEndpoint', {
  description: '(v3)',
  access: MANAGE,
  audit: { resourceType: 'webhook_endpoint', action: 'create' },
  // A second create makes a second endpoint.
  repeatable: false,
  input: builder.inputType('CreateWebhookEndpointInput', {
    fields: (t) => ({ url: t.string({ required: true, ...urlBounds }), description: descriptionField(t), filter: t.field({ type: ChangeEventFilterInput }) }),
  }),
  payload: builder.objectRef<EndpointPayload & { secret: string }>('CreateWebhookEndpointPayload').implement({
    fields: (t) => ({ webhookEndpoint: endpointField(t), secret: secretField(t) }),
  }),
  resolve: (input, ctx, op) => webhooks.createEndpoint(ctx, op, input),
});

defineMutation('updateWebhookEndpoint', {
  description: '(v3)',
  access: MANAGE,
  audit: { resourceType: 'webhook_endpoint', action: 'update' },
  repeatable: true,
  input: builder.inputType('UpdateWebhookEndpointInput', {
    description: 'Absent fields are left as they are. description: null clears it; filter: null delivers every event; url and enabled cannot be null.',
    fields: (t) => ({
      id: t.id({ required: true }),
      url: t.string(urlBounds),
      description: descriptionField(t),
      filter: t.field({ type: ChangeEventFilterInput }),
      enabled: t.boolean({ description: 'true re-enables a disabled endpoint (its failure record cleared); false disables it (MANUAL).' }),
    }),
  }),
  payload: builder.objectRef<EndpointPayload>('UpdateWebhookEndpointPayload').implement({ fields: (t) => ({ webhookEndpoint: endpointField(t) }) }),
  resolve: async (input, ctx, op) => ({ webhookEndpoint: await webhooks.updateEndpoint(ctx, op, input) }),
});

defineMutation('rotateWebhookSecret', {
  description: '(v3)',
  access: MANAGE,
  audit: { resourceType: 'webhook_endpoint', action: 'rotate' },
  // A repeat rotates again: the secret answered the first time would stop signing after the overlap.
  repeatable: false,
  input: builder.inputType('RotateWebhookSecretInput', { fields: (t) => ({ id: t.id({ required: true }) }) }),
  payload: builder.objectRef<EndpointPayload & { secret: string }>('RotateWebhookSecretPayload').implement({
    fields: (t) => ({ webhookEndpoint: endpointField(t), secret: secretField(t) }),
  }),
  resolve: (input, ctx, op) => webhooks.rotateSecret(ctx, op, input.id),
});

defineMutation('deleteWebhookEndpoint', {
  description: '(v3)',
  access: MANAGE,
  audit: { resourceType: 'webhook_endpoint', action: 'delete' },
  repeatable: true,
  input: builder.inputType('DeleteWebhookEndpointInput', { fields: (t) => ({ id: t.id({ required: true }) }) }),
  payload: deletePayload('DeleteWebhookEndpointPayload'),
  resolve: (input, ctx, op) => webhooks.deleteEndpoint(ctx, op, input.id),
});

defineMutation('replayWebhookEvents', {
  description: '(v3)',
  access: MANAGE,
  audit: { resourceType: 'webhook_endpoint', action: 'replay' },
  // A repeat queues the same events again: receivers drop repeats by webhook-id.
  repeatable: true,
  input: builder.inputType('ReplayWebhookEventsInput', {
    fields: (t) => ({
      id: t.id({ required: true }),
      after: t.string({ required: true, ...bounded({ maxLength: 200 }, 'A feed cursor: every matching event after it is queued again.') }),
    }),
  }),
  payload: builder.objectRef<{ queuedCount: number }>('ReplayWebhookEventsPayload').implement({
    fields: (t) => ({ queuedCount: t.exposeInt('queuedCount', { description: `Events queued (at most ${webhooks.MAX_REPLAY} per call).` }) }),
  }),
  resolve: (input, ctx, op) => webhooks.replayEvents(ctx, op, input),
});
