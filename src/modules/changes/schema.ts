import { builder, access, encodeGlobalId, parseId, NOT_CACHED } from '../../graphql/builder.ts';
import type { Context } from '../../graphql/context.ts';
import { badInput, unauthenticated } from '../../graphql/errors.ts';
import { selectedFieldNames } from '../../graphql/lookahead.ts';
import { DEFAULT_PAGE_SIZE, pageSize } from '../../graphql/pagination.ts';
import { assertOwnWorkspace } from '../access/effective.ts';
import { CHANGE_SUBJECTS, feedHead, readTenantFeed, type ChangeEvent, type ChangeSubject, type FeedView } from './feed.ts';
import { assertResumable, decodeCursor, encodeCursor, type FeedPosition } from './position.ts';
import type { Delivery } from './stream.ts';
import { resolveSubjects, subjectOf, subjectTypename } from './subjects.ts';
import { bounded } from '../../graphql/input-bounds.ts';

const ChangeActionEnum = builder.enumType('ChangeAction', { values: ['CREATED', 'UPDATED', 'DELETED'] as const });
/** The release that added each subject type after the first (printed as the value's description). */
const SUBJECT_SINCE: Partial<Record<ChangeSubject, string>> = { MODEL_ALIAS: '(v3)' };
export const ChangeSubjectEnum = builder.enumType('ChangeSubject', {
  description:
    'The kinds of object the change feed reports. New kinds are added in later releases: clients must tolerate ' +
    'subject types they do not know (skip or ignore those events) rather than fail on them.',
  values: Object.fromEntries(CHANGE_SUBJECTS.map((subject) => [subject, { description: SUBJECT_SINCE[subject] }])) as Record<
    ChangeSubject,
    { description?: string }
  >,
});

/** An event with its subject as read for the reader (null: gone or not visible). */
interface ChangeEventView {
  event: ChangeEvent;
  subject: object | null;
}

const globalId = (typename: string, id: string | null) => (id ? encodeGlobalId(typename, id) : null);

const ChangeEventRef = builder.objectRef<ChangeEventView>('ChangeEvent').implement({
  description: 'One committed change. Every change to an object this API shows produces exactly one event, cascades included.',
  fields: (t) => ({
    cursor: t.string({
      description: 'Opaque position in the feed; pass it as `after` to continue right after this event.',
      resolve: ({ event }) => encodeCursor(event.position),
    }),
    occurredAt: t.field({ type: 'DateTime', description: 'When the change committed.', resolve: ({ event }) => event.occurredAt }),
    action: t.field({ type: ChangeActionEnum, resolve: ({ event }) => event.action }),
    subjectType: t.field({ type: ChangeSubjectEnum, resolve: ({ event }) => event.subjectType }),
    subjectId: t.id({
      nullable: true,
      description: 'Global ID of the changed object, also after its deletion; null for DEFAULT_MODEL.',
      resolve: ({ event }) => {
        const typename = subjectTypename(event.subjectType);
        return typename ? globalId(typename, event.subjectId) : null;
      },
    }),
    subject: t.field({
      type: builder.nodeInterfaceRef(),
      nullable: true,
      description: "The changed object as it is when the event is delivered, read with the subscriber's permissions; null once deleted.",
      resolve: ({ subject }) => subject,
    }),
    workspaceId: t.id({
      nullable: true,
      description:
        'The workspace the change belongs to (a workspace, a workspace-level grant, a workspace default); null for organization-level and platform changes.',
      resolve: ({ event }) => globalId('Workspace', event.workspaceId),
    }),
    catalogEntryId: t.id({
      nullable: true,
      description: 'The catalog entry concerned, for CATALOG_ENTRY, MODEL_ACCESS and DEFAULT_MODEL events; kept after deletion.',
      resolve: ({ event }) => globalId('CatalogEntry', event.catalogEntryId),
    }),
    actorSubject: t.string({
      nullable: true,
      description: "Subject of the token whose request made the change; null for changes the service made itself.",
      resolve: ({ event }) => event.actorSubject,
    }),
  }),
});

interface ChangeEventPage {
  edges: { cursor: string; node: ChangeEventView }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

const ChangeEventEdgeRef = builder.objectRef<ChangeEventPage['edges'][number]>('ChangeEventEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: ChangeEventRef, resolve: (edge) => edge.node }),
  }),
});

// Not a relay connection object: a feed has no total count worth computing.
const ChangeEventConnectionRef = builder.objectRef<ChangeEventPage>('ChangeEventConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [ChangeEventEdgeRef], resolve: (page) => page.edges }),
    pageInfo: t.field({ type: builder.pageInfoRef(), resolve: (page) => page.pageInfo }),
  }),
});

export const ChangeEventFilterInput = builder.inputType('ChangeEventFilter', {
  fields: (t) => ({
    subjectTypes: t.field({
      type: [ChangeSubjectEnum],
      // One of each kind at most: repeating one adds nothing.
      ...bounded({ maxItems: CHANGE_SUBJECTS.length }, 'Only events about these kinds of object.'),
    }),
    workspaceId: t.id({ description: 'Only events that belong to this workspace.' }),
  }),
});

export interface ChangeEventFilter {
  subjectTypes?: readonly ChangeSubject[] | null;
  workspaceId?: string | null;
}

/** What the caller may see of the feed, narrowed by its filter. */
function feedView(ctx: Context, filter: ChangeEventFilter | null | undefined): FeedView {
  const organizationId = ctx.db.organizationId;
  let workspaceId: string | null = null;
  if (filter?.workspaceId != null) {
    workspaceId = parseId(filter.workspaceId, 'Workspace', 'filter.workspaceId');
    assertOwnWorkspace(ctx, workspaceId);
  }
  let subjectTypes: ChangeSubject[] | null = null;
  if (filter?.subjectTypes != null) {
    if (filter.subjectTypes.length === 0) throw badInput('filter.subjectTypes', 'give at least one subject type, or leave it out');
    subjectTypes = [...new Set(filter.subjectTypes)];
  }
  return { organizationId, boundWorkspaceId: ctx.principal.workspaceId, filter: { subjectTypes, workspaceId } };
}

/** The position a reader resumes after: BAD_USER_INPUT when malformed, CURSOR_EXPIRED past the retention. */
function resumeFrom(ctx: Context, cursor: string): FeedPosition {
  const position = decodeCursor(cursor, 'after');
  assertResumable(position, ctx.services.changeFeed.options.retentionMs, 'after');
  return position;
}

builder.queryFields((t) => ({
  changeEvents: t.field({
    type: ChangeEventConnectionRef,
    description: 'The change feed, oldest first. Without `after`: from the oldest retained event.',
    ...access(['agent:read'], { workspaceTokens: true }),
    // Not cached: without `after` it starts at the retention's edge, which moves with time.
    ...NOT_CACHED,
    args: {
      first: t.arg.int(),
      after: t.arg.string(),
      filter: t.arg({ type: ChangeEventFilterInput }),
    },
    resolve: async (_root, args, ctx, info) => {
      const first = pageSize(args.first, 'first') ?? DEFAULT_PAGE_SIZE;
      const view = feedView(ctx, args.filter);
      const after = args.after != null ? resumeFrom(ctx, args.after) : null;
      const since = after ? null : new Date(Date.now() - ctx.services.changeFeed.options.retentionMs);
      const read = await ctx.db.transaction((tx) => readTenantFeed(tx, view, after, first + 1, since));
      const events = read.events.slice(0, first);
      const subjects = selectedFieldNames(info).has('subject') ? await resolveSubjects(ctx, events) : new Map();
      const edges = events.map((event) => ({
        cursor: encodeCursor(event.position),
        node: { event, subject: subjectOf(subjects, event) },
      }));
      return {
        edges,
        pageInfo: {
          hasNextPage: read.events.length > first,
          hasPreviousPage: after !== null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  }),
  changeFeedHead: t.string({
    description: 'A cursor at the end of the feed now: every change that commits after this answer comes after it.',
    ...access(['agent:read'], { workspaceTokens: true }),
    // Not cached: it is the position of now.
    ...NOT_CACHED,
    resolve: async (_root, _args, ctx) => encodeCursor(await ctx.db.transaction(feedHead)),
  }),
}));

builder.subscriptionType({
  description: '(v2) Over Server-Sent Events (GraphQL over SSE) and WebSocket (graphql-transport-ws) at /graphql.',
});

builder.subscriptionField('changes', (t) =>
  t.field({
    type: ChangeEventRef,
    description:
      'Every change committed after `after` (without it: after the subscription is established), in feed order, then each new one as it commits. Resuming with the last cursor received loses and repeats nothing.',
    ...access(['agent:read'], { workspaceTokens: true }),
    args: {
      after: t.arg.string(),
      filter: t.arg({ type: ChangeEventFilterInput }),
    },
    subscribe: async (_root, args, ctx, info) => {
      const view = feedView(ctx, args.filter);
      const start = args.after != null ? resumeFrom(ctx, args.after) : await ctx.db.transaction(feedHead);
      return ctx.services.changeFeed.subscribe(ctx, view, start, selectedFieldNames(info).has('subject'));
    },
    resolve: (delivery: Delivery) => {
      if (delivery.kind === 'expired') throw unauthenticated('token expired', true);
      return { event: delivery.event, subject: delivery.subject };
    },
  }),
);
