import { Prisma } from '../../generated/prisma/client.ts';
import type { Tx } from '../../db/scope.ts';
import type { FeedPosition } from './position.ts';

export const CHANGE_SUBJECTS = ['WORKSPACE', 'CATALOG_ENTRY', 'CUSTOM_PROVIDER', 'MODEL_ACCESS', 'DEFAULT_MODEL', 'MODEL_ALIAS'] as const;
export type ChangeSubject = (typeof CHANGE_SUBJECTS)[number];
export type ChangeAction = 'CREATED' | 'UPDATED' | 'DELETED';

/** One row of change_event. */
export interface ChangeEvent {
  position: FeedPosition;
  organizationId: string | null;
  workspaceId: string | null;
  subjectType: ChangeSubject;
  action: ChangeAction;
  subjectId: string | null;
  catalogEntryId: string | null;
  actorSubject: string | null;
  occurredAt: Date;
}

/** What a reader may see of the feed and what it asked for. */
export interface FeedView {
  organizationId: string;
  /** A workspace-bound reader sees its workspace's events and those of no workspace. */
  boundWorkspaceId: string | null;
  filter: { subjectTypes: readonly ChangeSubject[] | null; workspaceId: string | null };
}

/** The one rule of who sees an event (the same as the table's row-level security). */
export function isVisible(event: ChangeEvent, view: FeedView): boolean {
  if (event.organizationId !== null && event.organizationId !== view.organizationId) return false;
  if (view.boundWorkspaceId && event.workspaceId !== null && event.workspaceId !== view.boundWorkspaceId) return false;
  if (view.filter.subjectTypes && !view.filter.subjectTypes.includes(event.subjectType)) return false;
  if (view.filter.workspaceId && event.workspaceId !== view.filter.workspaceId) return false;
  return true;
}

interface EventRow {
  id: string | null;
  xid: string | null;
  organization_id: string | null;
  workspace_id: string | null;
  subject_type: ChangeSubject;
  action: ChangeAction;
  subject_id: string | null;
  catalog_entry_id: string | null;
  actor_subject: string | null;
  occurred_at: Date;
  bound: string;
}

const COLUMNS = Prisma.sql`e.id::text AS id, e.xid::text AS xid, e.organization_id::text AS organization_id,
  e.workspace_id::text AS workspace_id, e.subject_type::text AS subject_type, e.action::text AS action,
  e.subject_id::text AS subject_id, e.catalog_entry_id::text AS catalog_entry_id, e.actor_subject, e.occurred_at`;

function toEvent(row: EventRow): ChangeEvent {
  return {
    position: { xid: BigInt(row.xid!), id: BigInt(row.id!), time: row.occurred_at.getTime() },
    organizationId: row.organization_id,
    workspaceId: row.workspace_id,
    subjectType: row.subject_type,
    action: row.action,
    subjectId: row.subject_id,
    catalogEntryId: row.catalog_entry_id,
    actorSubject: row.actor_subject,
    occurredAt: row.occurred_at,
  };
}

export interface FeedRead {
  events: ChangeEvent[];
  /** Every event before this position has been read (or skipped as not asked for). */
  readThrough: FeedPosition;
}

/**
 * The readable end of the feed: every transaction of this database below the oldest
 * one still in flight has ended, so no event can appear before this position any more
 * (see change_feed_bound in the migration).
 */
const BOUND = Prisma.sql`change_feed_bound()`;

function readThrough(rows: EventRow[], limit: number, now: number): FeedPosition {
  const last = rows.at(-1);
  if (rows.length >= limit && last?.id) return { xid: BigInt(last.xid!), id: BigInt(last.id), time: last.occurred_at.getTime() };
  return { xid: BigInt(rows[0]!.bound), id: 0n, time: now };
}

/** The position at the end of the feed now: whatever commits later comes after it. */
export async function feedHead(tx: Tx): Promise<FeedPosition> {
  const [row] = await tx.$queryRaw<{ bound: string; now: Date }[]>`SELECT ${BOUND}::text AS bound, now() AS now`;
  return { xid: BigInt(row!.bound), id: 0n, time: Date.now() };
}

/**
 * Up to `limit` events after `after`, oldest first, of the organization and the
 * platform, as the view allows (row-level security applies too: run it in the
 * reader's tenant transaction). `since` leaves out events that occurred before it.
 */
export async function readTenantFeed(
  tx: Tx,
  view: FeedView,
  after: FeedPosition | null,
  limit: number,
  since: Date | null,
): Promise<FeedRead> {
  const conditions: Prisma.Sql[] = [Prisma.sql`e.xid < b.bound`];
  if (after) conditions.push(Prisma.sql`(e.xid, e.id) > (${String(after.xid)}::xid8, ${after.id})`);
  if (since) conditions.push(Prisma.sql`e.occurred_at >= ${since}`);
  if (view.filter.subjectTypes) {
    conditions.push(Prisma.sql`e.subject_type::text = ANY(${[...view.filter.subjectTypes]}::text[])`);
  }
  const workspaceId = view.filter.workspaceId;
  if (workspaceId) conditions.push(Prisma.sql`e.workspace_id = ${workspaceId}::uuid`);
  if (view.boundWorkspaceId) {
    conditions.push(Prisma.sql`(e.workspace_id IS NULL OR e.workspace_id = ${view.boundWorkspaceId}::uuid)`);
  }
  const where = Prisma.join(conditions, ' AND ');
  // Two index range scans merged, rather than one scan filtered by an OR.
  const rows = await tx.$queryRaw<EventRow[]>`
    WITH b AS (SELECT ${BOUND} AS bound)
    SELECT p.*, b.bound::text AS bound FROM b LEFT JOIN LATERAL (
      SELECT * FROM (
        (SELECT ${COLUMNS} FROM change_event e, b
          WHERE e.organization_id = ${view.organizationId}::uuid AND ${where} ORDER BY e.xid, e.id LIMIT ${limit})
        UNION ALL
        (SELECT ${COLUMNS} FROM change_event e, b
          WHERE e.organization_id IS NULL AND ${workspaceId ? Prisma.sql`false` : Prisma.sql`true`} AND ${where}
          ORDER BY e.xid, e.id LIMIT ${limit})
      ) u ORDER BY u.xid::xid8, u.id::bigint LIMIT ${limit}
    ) p ON true`;
  const events = rows.filter((row) => row.id !== null).map(toEvent);
  return { events, readThrough: readThrough(rows, limit, Date.now()) };
}

/** Every organization's events after `after` (the feed role's in-process reader). */
export async function readWholeFeed(tx: Tx, after: FeedPosition, limit: number): Promise<FeedRead> {
  const rows = await tx.$queryRaw<EventRow[]>`
    WITH b AS (SELECT ${BOUND} AS bound)
    SELECT p.*, b.bound::text AS bound FROM b LEFT JOIN LATERAL (
      SELECT ${COLUMNS} FROM change_event e
      WHERE (e.xid, e.id) > (${String(after.xid)}::xid8, ${after.id}) AND e.xid < b.bound
      ORDER BY e.xid, e.id LIMIT ${limit}
    ) p ON true`;
  const events = rows.filter((row) => row.id !== null).map(toEvent);
  return { events, readThrough: readThrough(rows, limit, Date.now()) };
}

/** Deletes events older than `before`, a batch at a time; returns how many. */
export async function pruneFeed(tx: Tx, before: Date, batch: number): Promise<number> {
  return tx.$executeRaw`
    DELETE FROM change_event WHERE id IN (
      SELECT id FROM change_event WHERE occurred_at < ${before} ORDER BY occurred_at LIMIT ${batch})`;
}
