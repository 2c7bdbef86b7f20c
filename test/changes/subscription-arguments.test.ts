import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, type TestApp } from '../support/harness.ts';
import { enableThroughApi, fixtures } from '../access/fixtures.ts';
import { EVENT_FIELDS, feedHead, readFeed, subscribeSse, subscribeWs, untilSubscribed, type SeenEvent, type Subscription } from './feed-client.ts';

// SPEC §17: a subscription's arguments are the field's arguments as written — literals,
// variables of any name, defaults — exactly as for queries. Each case replays from a
// cursor (or starts at the head), then receives what commits while it is open, and must
// give exactly what `changeEvents` gives for the same arguments.

let t: TestApp;
let url: string;
let token: string;
let organizationId: string;
/** Workspaces' global IDs (what ChangeEventFilter.workspaceId takes) and database IDs. */
let first: string;
let second: string;
const databaseIds = new Map<string, string>();
/** A cursor inside the history: the replay after it is not the whole feed. */
let cursor: string;

const CREATE_WORKSPACE = 'mutation($name: String!) { createWorkspace(input: { name: $name }) { workspace { id databaseId } } }';

async function workspace(name: string): Promise<string> {
  const created = ok(await t.request<any>(CREATE_WORKSPACE, { name }, { token })).createWorkspace.workspace;
  databaseIds.set(created.id, created.databaseId);
  return created.id;
}

/** A new catalog entry granted to the organization and to `workspaceId`: CATALOG_ENTRY and MODEL_ACCESS events, some in the workspace. */
async function grant(workspaceId: string, name: string): Promise<void> {
  const entry = await fixtures(t).orgEntry(organizationId, name);
  await enableThroughApi(t, token, entry.id);
  await enableThroughApi(t, token, entry.id, databaseIds.get(workspaceId));
}

let counter = 0;

beforeAll(async () => {
  t = await startTestApp();
  url = await t.listen();
  ({ id: organizationId, token } = await t.organization('Arguments'));
  const head = await feedHead(t, token);
  first = await workspace('first');
  second = await workspace('second');
  await grant(first, 'history-1');
  await grant(second, 'history-2');
  await workspace('third');
  await grant(first, 'history-3');
  const history = await readFeed(t, token, head);
  expect(history.length).toBeGreaterThan(8);
  cursor = history[2]!.cursor;
});
afterAll(() => t.close());

interface Case {
  label: string;
  query: (values: { cursor: string; first: string }) => string;
  variables: (values: { cursor: string; first: string }) => Record<string, unknown>;
  /** The arguments `changeEvents` takes for the same selection; `after: 'head'` is the head when the subscription opened. */
  expected: (values: { cursor: string; first: string }) => { after: string | 'head'; filter?: Record<string, unknown> };
}

const selection = `{ ${EVENT_FIELDS} }`;

const cases: Case[] = [
  {
    label: 'a literal cursor',
    query: ({ cursor }) => `subscription { changes(after: "${cursor}") ${selection} }`,
    variables: () => ({}),
    expected: ({ cursor }) => ({ after: cursor }),
  },
  {
    label: 'a literal filter of subject types, from the head',
    query: () => `subscription { changes(filter: { subjectTypes: [MODEL_ACCESS] }) ${selection} }`,
    variables: () => ({}),
    expected: () => ({ after: 'head', filter: { subjectTypes: ['MODEL_ACCESS'] } }),
  },
  {
    label: 'a literal cursor and both filters',
    query: ({ cursor, first }) =>
      `subscription { changes(after: "${cursor}", filter: { subjectTypes: [MODEL_ACCESS], workspaceId: "${first}" }) ${selection} }`,
    variables: () => ({}),
    expected: ({ cursor, first }) => ({ after: cursor, filter: { subjectTypes: ['MODEL_ACCESS'], workspaceId: first } }),
  },
  {
    label: 'variables named otherwise ($cursor, $f)',
    query: () => `subscription Resume($cursor: String, $f: ChangeEventFilter) { changes(after: $cursor, filter: $f) ${selection} }`,
    variables: ({ cursor, first }) => ({ cursor, f: { workspaceId: first } }),
    expected: ({ cursor, first }) => ({ after: cursor, filter: { workspaceId: first } }),
  },
  {
    label: 'variables named like the other argument ($filter for after, $after for filter)',
    query: () => `subscription($filter: String, $after: ChangeEventFilter) { changes(after: $filter, filter: $after) ${selection} }`,
    variables: ({ cursor }) => ({ filter: cursor, after: { subjectTypes: ['WORKSPACE', 'CATALOG_ENTRY'] } }),
    expected: ({ cursor }) => ({ after: cursor, filter: { subjectTypes: ['WORKSPACE', 'CATALOG_ENTRY'] } }),
  },
  {
    label: 'variables inside a literal filter',
    query: () => `subscription($c: String!, $ws: ID, $types: [ChangeSubject!]) { changes(after: $c, filter: { workspaceId: $ws, subjectTypes: $types }) ${selection} }`,
    variables: ({ cursor, first }) => ({ c: cursor, ws: first, types: ['MODEL_ACCESS'] }),
    expected: ({ cursor, first }) => ({ after: cursor, filter: { workspaceId: first, subjectTypes: ['MODEL_ACCESS'] } }),
  },
  {
    label: 'omitted variables with defaults',
    query: ({ cursor }) =>
      `subscription($since: String = "${cursor}", $only: ChangeEventFilter = { subjectTypes: [WORKSPACE] }) { changes(after: $since, filter: $only) ${selection} }`,
    variables: () => ({}),
    expected: ({ cursor }) => ({ after: cursor, filter: { subjectTypes: ['WORKSPACE'] } }),
  },
  {
    label: 'a given variable over its default',
    query: () => `subscription($since: String = "not a cursor", $only: ChangeEventFilter = { subjectTypes: [WORKSPACE] }) { changes(after: $since, filter: $only) ${selection} }`,
    variables: ({ cursor }) => ({ since: cursor }),
    expected: ({ cursor }) => ({ after: cursor, filter: { subjectTypes: ['WORKSPACE'] } }),
  },
  {
    label: 'omitted variables without defaults, from the head',
    query: () => `subscription($cursor: String, $f: ChangeEventFilter) { changes(after: $cursor, filter: $f) ${selection} }`,
    variables: () => ({}),
    expected: () => ({ after: 'head' }),
  },
];

const transports: [string, (query: string, variables: Record<string, unknown>) => Subscription][] = [
  ['SSE', (query, variables) => subscribeSse(url, token, { query, variables })],
  ['WebSocket', (query, variables) => subscribeWs(url, token, { query, variables })],
];

describe('subscription arguments are the field\'s arguments as written (SPEC §17)', () => {
  it.each(transports.flatMap(([transport, subscribe]) => cases.map((c) => ({ ...c, transport, subscribe, name: `${transport}: ${c.label}` }))))(
    '$name',
    async ({ query, variables, expected, subscribe }) => {
      const values = { cursor, first };
      const open = t.services.changeFeed.openSubscriptions;
      const subscription = subscribe(query(values), variables(values));
      await untilSubscribed(t, open + 1);
      const head = await feedHead(t, token);
      // What commits while it is open: events of both workspaces, of several kinds.
      const n = ++counter;
      await grant(first, `live-${n}-a`);
      await workspace(`live-${n}`);
      await grant(second, `live-${n}-b`);
      const { after, filter } = expected(values);
      const feed: SeenEvent[] = await readFeed(t, token, after === 'head' ? head : after, filter);
      expect(feed.length).toBeGreaterThan(0);
      try {
        expect(await subscription.waitFor(feed.length)).toEqual(feed);
        // Nothing beyond: a stream that ignored its arguments would deliver more.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(subscription.events).toEqual(feed);
        expect(subscription.errors).toEqual([]);
      } finally {
        subscription.close();
        const deadline = Date.now() + 5_000;
        while (t.services.changeFeed.openSubscriptions > open && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      }
    },
  );
});
