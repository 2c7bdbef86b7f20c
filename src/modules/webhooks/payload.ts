import crypto from 'node:crypto';
import { encodeGlobalId } from '../../graphql/builder.ts';
import { encodeCursor } from '../changes/position.ts';
import { subjectTypename } from '../changes/subjects.ts';
import type { ChangeSubject } from '../changes/feed.ts';

/** What a delivery carries of its event (copied by the outbox, see the migration). */
export interface DeliveredEvent {
  endpointId: string;
  eventId: bigint;
  eventXid: bigint;
  subjectType: string;
  action: string;
  subjectId: string | null;
  workspaceId: string | null;
  occurredAt: Date;
}

/** `model_access.created` and the like. */
export function eventType(event: Pick<DeliveredEvent, 'subjectType' | 'action'>): string {
  return `${event.subjectType.toLowerCase()}.${event.action.toLowerCase()}`;
}

/** The `webhook-id`: one per endpoint and event, the same on every attempt and replay. */
export function webhookId(endpointId: string, eventId: bigint): string {
  return `msg_${crypto.createHash('sha256').update(`${endpointId}:${eventId}`).digest('base64url').slice(0, 27)}`;
}

export function eventCursor(event: Pick<DeliveredEvent, 'eventXid' | 'eventId' | 'occurredAt'>): string {
  return encodeCursor({ xid: event.eventXid, id: event.eventId, time: event.occurredAt.getTime() });
}

/** The body of SPEC §19, with the API's global ids: a thin event, receivers fetch the subject themselves. */
export function payloadOf(event: DeliveredEvent): string {
  const typename = subjectTypename(event.subjectType as ChangeSubject);
  const occurredAt = event.occurredAt.toISOString();
  return JSON.stringify({
    type: eventType(event),
    timestamp: occurredAt,
    data: {
      cursor: eventCursor(event),
      subjectType: event.subjectType,
      subjectId: typename && event.subjectId ? encodeGlobalId(typename, event.subjectId) : null,
      action: event.action,
      workspaceId: event.workspaceId ? encodeGlobalId('Workspace', event.workspaceId) : null,
      occurredAt,
    },
  });
}
