import { builder, access, NOT_CACHED } from '../../graphql/builder.ts';
import { connectionOf } from '../../graphql/connections.ts';
import type { Context } from '../../graphql/context.ts';
import type { AuditEvent, Prisma } from '../../generated/prisma/client.ts';
import { badInput } from '../../graphql/errors.ts';
import { paginate, type ConnectionArgs, newestFirst } from '../../graphql/pagination.ts';
import { ActorTypeEnum } from '../tenancy/schema.ts';

const AuditStatusEnum = builder.enumType('AuditStatus', { values: ['SUCCESS', 'FAILURE'] as const });

const AuditEventRef = builder.prismaNode('AuditEvent', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, organizationId: ctx.db.organizationId }),
  nullable: true,
  fields: (t) => ({
    databaseId: t.expose('id', { type: 'UUID' }),
    resourceType: t.exposeString('resourceType', {
      description:
        'agent_catalog, agent_custom_provider, agent_model_access, agent_default_model, agent_credentials, workspace, organization',
    }),
    action: t.exposeString('action', { description: 'create, update, delete, refresh, validate, read' }),
    resourceId: t.expose('resourceId', { type: 'UUID', nullable: true }),
    status: t.expose('status', { type: AuditStatusEnum }),
    errorCode: t.exposeString('errorCode', { nullable: true, description: 'The error code of a FAILURE.' }),
    actorSubject: t.exposeString('actorSubject'),
    actorType: t.expose('actorType', { type: ActorTypeEnum }),
    organizationId: t.expose('organizationId', { type: 'UUID', nullable: true }),
    workspaceId: t.expose('workspaceId', { type: 'UUID', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const AuditEventConnection = connectionOf(AuditEventRef, 'AuditEvent');

const AuditEventFilterInput = builder.inputType('AuditEventFilter', {
  fields: (t) => ({
    resourceType: t.string(),
    resourceId: t.field({ type: 'UUID' }),
    status: t.field({ type: AuditStatusEnum }),
  }),
});

const auditOrdering = newestFirst<AuditEvent>('audit:created');

function listAuditEvents(
  ctx: Context,
  args: ConnectionArgs,
  filter: { resourceType?: string | null; resourceId?: string | null; status?: 'SUCCESS' | 'FAILURE' | null } | null | undefined,
) {
  const where: Prisma.AuditEventWhereInput = { organizationId: ctx.db.organizationId };
  if (filter?.resourceType != null) {
    if (filter.resourceType.length > 64) throw badInput('filter.resourceType', 'must be at most 64 characters');
    where.resourceType = filter.resourceType;
  }
  if (filter?.resourceId != null) where.resourceId = filter.resourceId;
  if (filter?.status != null) where.status = filter.status;
  return paginate(
    auditOrdering,
    args,
    where as Record<string, unknown>,
    (query) => ctx.db.transaction((tx) => tx.auditEvent.findMany(query)),
    (query) => ctx.db.transaction((tx) => tx.auditEvent.count(query)),
  );
}

builder.queryField('auditEvents', (t) =>
  t.connection(
    {
      type: AuditEventRef,
      ...access(['audit:read']),
      // Not cached: audit rows make no change events.
      ...NOT_CACHED,
      args: { filter: t.arg({ type: AuditEventFilterInput }) },
      resolve: (_root, args, ctx) => listAuditEvents(ctx, args, args.filter),
    },
    AuditEventConnection,
  ),
);
