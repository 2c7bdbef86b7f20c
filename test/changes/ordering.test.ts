import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, type TestApp } from '../support/harness.ts';
import pg from 'pg';
import { scopedTransaction } from '../../src/db/scope.ts';
import { createTestDatabase } from '../support/database.ts';
import { feedHead, readFeed, subscribeSse, subscribeWs, type Subscription } from './feed-client.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);

// On PostgreSQL two instances share the database (each with its own pool, notification
// connection and feed reader); on the embedded database there is one.
let instances: TestApp[] = [];

beforeAll(async () => {
  const first = await startTestApp({ DATABASE_POOL_SIZE: '8', RATE_LIMIT_POINTS: '0' });
  instances = [first];
  if (onPostgres) instances.push(await startTestApp({ DATABASE_URL: first.config.DATABASE_URL!, DATABASE_POOL_SIZE: '8', RATE_LIMIT_POINTS: '0' }));
});
afterAll(async () => {
  for (const instance of instances.reverse()) await instance.close();
});

const CREATE_WORKSPACE = 'mutation($name: String!) { createWorkspace(input: { name: $name }) { workspace { id } } }';
const CREATE_ENTRY = `mutation($name: String!) { createCatalogEntry(input: { modelName: $name, config: { azureAi: { azureAiModelName: "x" } } }) { catalogEntry { id } } }`;
const ENABLE = 'mutation($entry: ID!, $ws: ID) { enableModel(input: { catalogEntryId: $entry, workspaceId: $ws }) { modelAccess { id } } }';
const DELETE_WORKSPACE = 'mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }';

describe('feed order under concurrent writers', () => {
  it('every subscriber, on every instance and transport, gets exactly the feed: each event once, in feed order', async () => {
    const [main] = instances;
    const orgs = [await main!.organization('A'), await main!.organization('B'), await main!.organization('C')];
    const heads = await Promise.all(orgs.map((org) => feedHead(main!, org.token)));
    const subscriptions = new Map<string, Subscription[]>();
    for (const [index, org] of orgs.entries()) {
      const list: Subscription[] = [];
      for (const instance of instances) {
        const url = await instance.listen();
        list.push(subscribeSse(url, org.token, { after: heads[index] }), subscribeWs(url, org.token, { after: heads[index] }));
      }
      subscriptions.set(org.id, list);
    }

    // 24 writers, spread over the organizations and instances, each making its changes in order.
    const writers = Array.from({ length: 24 }, async (_, writer) => {
      const org = orgs[writer % orgs.length]!;
      const instance = instances[writer % instances.length]!;
      const send = (query: string, variables: Record<string, unknown>) => instance.request<any>(query, variables, { token: org.token }).then(ok);
      const workspace = (await send(CREATE_WORKSPACE, { name: `w${writer}` })).createWorkspace.workspace.id;
      const entry = (await send(CREATE_ENTRY, { name: `m${writer}` })).createCatalogEntry.catalogEntry.id;
      await send(ENABLE, { entry, ws: workspace });
      await send(DELETE_WORKSPACE, { id: workspace });
      return { org: org.id, workspace };
    });
    const written = await Promise.all(writers);

    for (const [index, org] of orgs.entries()) {
      const feed = await readFeed(main!, org.token, heads[index]!);
      // Per writer: workspace, entry and its grant, workspace grant, then the deletion and its cascade.
      expect(feed).toHaveLength(written.filter((w) => w.org === org.id).length * 6);
      expect(new Set(feed.map((event) => event.cursor)).size).toBe(feed.length);
      // Subjects are read when delivered (live: before the workspace's deletion), so compare the rest.
      const withoutSubject = (events: typeof feed) => events.map(({ subject: _subject, ...event }) => event);
      for (const subscription of subscriptions.get(org.id)!) {
        expect(withoutSubject(await subscription.waitFor(feed.length, 20_000))).toEqual(withoutSubject(feed));
      }
      // Each writer's changes appear in the order it made them.
      for (const { workspace } of written.filter((w) => w.org === org.id)) {
        const mine = feed.filter((event) => event.workspaceId === workspace).map((event) => `${event.subjectType} ${event.action}`);
        expect(mine[0]).toBe('WORKSPACE CREATED');
        expect(mine.at(-1)).toMatch(/DELETED$/);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const [index, org] of orgs.entries()) {
      const feed = await readFeed(main!, org.token, heads[index]!);
      for (const subscription of subscriptions.get(org.id)!) {
        expect(subscription.events).toHaveLength(feed.length);
        subscription.close();
      }
    }
  }, 90_000);

  it.skipIf(!onPostgres)('never lets a reader pass an event that commits later with a smaller number', async () => {
    const [main, other] = instances;
    const org = await main!.organization();
    const head = await feedHead(main!, org.token);
    const subscriber = subscribeSse(await other!.listen(), org.token, { after: head });
    const scope = { kind: 'tenant', organizationId: org.id } as const;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let firstWritten!: () => void;
    const written = new Promise<void>((resolve) => (firstWritten = resolve));
    // T1 writes first (smaller transaction id and event id) and commits last.
    const first = scopedTransaction(main!.services.database.prisma, scope, async (tx) => {
      await tx.workspace.create({ data: { organizationId: org.id, name: 'first, committed last' } });
      firstWritten();
      await held;
    });
    await written;
    await scopedTransaction(main!.services.database.prisma, scope, (tx) =>
      tx.workspace.create({ data: { organizationId: org.id, name: 'second, committed first' } }),
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    // Nothing may be delivered or read past T1's event while T1 is open.
    expect(subscriber.events).toEqual([]);
    expect(await readFeed(main!, org.token, head)).toEqual([]);
    release();
    await first;
    const feed = await readFeed(main!, org.token, head);
    expect(feed).toHaveLength(2);
    expect(await subscriber.waitFor(2)).toEqual(feed);
    subscriber.close();
  });

  it.skipIf(!onPostgres)('is not held back by a long transaction of another database on the same server', async () => {
    const [main] = instances;
    const org = await main!.organization();
    const subscriber = subscribeSse(main!, org.token, { after: await feedHead(main!, org.token) });
    const elsewhere = await createTestDatabase();
    const client = new pg.Client({ connectionString: elsewhere.databaseUrl });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TABLE held (id int)');
      await client.query('INSERT INTO held VALUES (1)');
      // That transaction has an id, older than any of what follows, and stays open.
      ok(await main!.request(CREATE_WORKSPACE, { name: 'not held back' }, { token: org.token }));
      await subscriber.waitFor(1, 3_000);
      expect(await readFeed(main!, org.token, null, { subjectTypes: ['WORKSPACE'] })).toHaveLength(1);
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
      await elsewhere.drop();
      subscriber.close();
    }
  });

  it.skipIf(!onPostgres)('keeps delivering while the notification connection is down, and reconnects it', async () => {
    const [main] = instances;
    const org = await main!.organization();
    const subscriber = subscribeSse(main!, org.token, { after: await feedHead(main!, org.token) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const database = new URL(main!.config.DATABASE_URL!).pathname.slice(1);
    const listeners = () =>
      main!.services.database.withSession((session) =>
        session.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'`, [database]),
      );
    // One per instance.
    expect(await listeners()).toHaveLength(instances.length);
    await main!.services.database.withSession((session) =>
      session.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'`, [database]),
    );
    ok(await main!.request(CREATE_WORKSPACE, { name: 'while down' }, { token: org.token }));
    await subscriber.waitFor(1, 3_000);
    const deadline = Date.now() + 10_000;
    while ((await listeners()).length < instances.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await listeners()).toHaveLength(instances.length);
    ok(await main!.request(CREATE_WORKSPACE, { name: 'after reconnect' }, { token: org.token }));
    await subscriber.waitFor(2, 3_000);
    subscriber.close();
  });
});
