import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, type TestApp } from '../support/harness.ts';
import { EVENT_FIELDS, feedHead, readFeed, subscribeSse, subscribeWs, untilSubscribed, type Subscription } from './feed-client.ts';

let t: TestApp;
let url: string;

beforeAll(async () => {
  t = await startTestApp();
  url = await t.listen();
});
afterAll(() => t.close());

// The cursor and filter are arguments of the root field: they choose events, not what an event becomes.
const QUERY = `subscription Follow($from: String, $only: ChangeEventFilter) { changes(after: $from, filter: $only) { ${EVENT_FIELDS} } }`;

async function open(...starts: (() => Subscription)[]): Promise<Subscription[]> {
  const subscriptions: Subscription[] = [];
  for (const start of starts) {
    const before = t.services.changeFeed.openSubscriptions;
    subscriptions.push(start());
    await untilSubscribed(t, before + 1);
  }
  return subscriptions;
}

async function closeAll(subscriptions: Subscription[]): Promise<void> {
  for (const subscription of subscriptions) subscription.close();
  const deadline = Date.now() + 5_000;
  while (t.services.changeFeed.openSubscriptions > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

const createWorkspace = async (token: string, name: string) =>
  ok(await t.request<any>('mutation($name: String!) { createWorkspace(input: { name: $name }) { workspace { id databaseId } } }', { name }, { token }))
    .createWorkspace.workspace as { id: string; databaseId: string };

describe('shared execution of subscriptions', () => {
  it('subscribers of one group (same document, selection and visibility) get identical events over SSE and WebSocket', async () => {
    const org = await t.organization();
    const [alice, bob] = [
      await t.token({ organizationId: org.id, subject: 'alice', scopes: ['agent:read'] }),
      await t.token({ organizationId: org.id, subject: 'bob', scopes: ['agent:read'] }),
    ];
    const head = await feedHead(t, org.token);
    const subscriptions = await open(
      () => subscribeSse(url, alice, { query: QUERY }),
      () => subscribeWs(url, bob, { query: QUERY }),
      () => subscribeSse(t, bob, { query: QUERY, variables: { from: head } }),
      () => subscribeSse(url, alice, { query: QUERY, variables: { only: { subjectTypes: ['WORKSPACE'] } } }),
    );
    expect(t.services.changeFeed.groups.size).toBe(1);
    await createWorkspace(org.token, 'one');
    await createWorkspace(org.token, 'two');
    const feed = await readFeed(t, org.token, head);
    expect(feed).toHaveLength(2);
    for (const subscription of subscriptions) expect(await subscription.waitFor(2)).toEqual(feed);
    await closeAll(subscriptions);
    expect(t.services.changeFeed.groups.size).toBe(0);
  });

  it('takes the arguments of `changes` from the document, never from the variables map as such', async () => {
    const org = await t.organization();
    // A variable map with a `filter` of its own: only `$types` is the operation's.
    const query = `subscription($types: [ChangeSubject!]) { changes(filter: { subjectTypes: $types }) { ${EVENT_FIELDS} } }`;
    const variables = { types: ['WORKSPACE'], filter: { subjectTypes: ['DEFAULT_MODEL'] } };
    const [sse, ws] = await open(() => subscribeSse(url, org.token, { query, variables }), () => subscribeWs(url, org.token, { query, variables }));
    const created = await createWorkspace(org.token, 'by-document');
    for (const subscription of [sse!, ws!]) expect((await subscription.waitFor(1))[0]).toMatchObject({ subjectType: 'WORKSPACE', subjectId: created.id });
    await closeAll([sse!, ws!]);
  });

  it('never groups different visibility: organization and bound tokens, different scopes, other organizations, other selections', async () => {
    const [a, b] = [await t.organization('A'), await t.organization('B')];
    const [mine, other] = [await createWorkspace(a.token, 'mine'), await createWorkspace(a.token, 'other')];
    const reader = await t.token({ organizationId: a.id, subject: 'reader', scopes: ['agent:read'] });
    const bound = await t.token({ organizationId: a.id, subject: 'reader', workspaceId: mine.databaseId, scopes: ['agent:read'] });
    const writer = await t.token({ organizationId: a.id, subject: 'reader', scopes: ['agent:read', 'agent:create'] });
    const outsider = await t.token({ organizationId: b.id, subject: 'reader', scopes: ['agent:read'] });
    const [orgWide, boundSse, boundWs, wider, fromB, narrower] = await open(
      () => subscribeSse(url, reader, { query: QUERY }),
      () => subscribeSse(url, bound, { query: QUERY }),
      () => subscribeWs(url, bound, { query: QUERY }),
      () => subscribeWs(url, writer, { query: QUERY }),
      () => subscribeSse(url, outsider, { query: QUERY }),
      () => subscribeSse(url, reader, { query: 'subscription { changes { cursor subjectId } }' }),
    );
    // The bound token's two subscriptions share; everything else stands alone.
    expect(t.services.changeFeed.groups.size).toBe(5);
    const head = await feedHead(t, a.token);
    for (const workspace of [other, mine]) {
      ok(await t.request('mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }', { id: workspace.id }, { token: a.token }));
    }
    await createWorkspace(b.token, 'b-only');
    const feed = await readFeed(t, a.token, head);
    expect(await orgWide!.waitFor(2)).toEqual(feed);
    expect(await wider!.waitFor(2)).toEqual(feed);
    expect((await narrower!.waitFor(2)).map((event) => Object.keys(event))).toEqual([['cursor', 'subjectId'], ['cursor', 'subjectId']]);
    for (const own of [boundSse!, boundWs!]) expect(await own.waitFor(1)).toEqual(feed.filter((event) => event.subjectId === mine.id));
    expect((await fromB!.waitFor(1))[0]).toMatchObject({ action: 'CREATED', subjectType: 'WORKSPACE' });
    await new Promise((r) => setTimeout(r, 300));
    expect([boundSse!, boundWs!, fromB!].map((subscription) => subscription.events.length)).toEqual([1, 1, 1]);
    await closeAll([orgWide!, boundSse!, boundWs!, wider!, fromB!, narrower!]);
  });

  it('a reader that stops reading does not delay the others of its group', async () => {
    const org = await t.organization();
    const admin = await t.token({ scopes: ['platform:admin'] });
    const { port } = new URL(url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const body = JSON.stringify({ query: QUERY, variables: { from: null, only: null } });
    socket.write(
      `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\ncontent-type: application/json\r\nauthorization: Bearer ${org.token}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    socket.pause(); // never reads
    await untilSubscribed(t, 1);
    const [sse, ws] = await open(() => subscribeSse(url, org.token, { query: QUERY }), () => subscribeWs(url, org.token, { query: QUERY }));
    expect(t.services.changeFeed.groups.size).toBe(1);
    let delivered = 0;
    t.services.changeFeed.onDelivered = () => delivered++;
    const provider = `shared-flood-${Date.now()}`;
    const total = 20_000;
    for (let batch = 0; batch < total / 1000; batch++) {
      const entries = Array.from({ length: 1000 }, (_, i) => ({ modelProvider: provider, modelName: `m-${batch}-${i}` }));
      ok(await t.request('mutation($e: [PlatformCatalogEntryInput!]!) { upsertPlatformCatalog(input: { entries: $e }) { insertedCount } }', { e: entries }, { token: admin }));
    }
    const [fromSse, fromWs] = await Promise.all([sse!.waitFor(total, 90_000), ws!.waitFor(total, 90_000)]);
    expect(fromSse).toEqual(fromWs);
    expect(new Set(fromSse.map((event) => event.cursor)).size).toBe(total);
    // The two readers got everything; the one that does not read holds at most what its socket took.
    expect(delivered).toBeGreaterThanOrEqual(2 * total);
    expect(delivered).toBeLessThan(2.75 * total);
    t.services.changeFeed.onDelivered = undefined;
    socket.destroy();
    await closeAll([sse!, ws!]);
  }, 180_000);
});
