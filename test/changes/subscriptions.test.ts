import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestApp, ok, type TestApp } from '../support/harness.ts';
import { decodeCursor, encodeCursor } from '../../src/modules/changes/position.ts';
import { feedHead, kinds, readFeed, subscribeSse, subscribeWs, untilSubscribed, openInTurn, closeAll } from './feed-client.ts';

let t: TestApp;
let url: string;

beforeAll(async () => {
  t = await startTestApp({ MAX_SUBSCRIPTIONS_PER_ACTOR: '3', MAX_SUBSCRIPTIONS: '12' });
  url = await t.listen();
});
afterAll(() => t.close());

const CREATE_WORKSPACE = 'mutation($name: String!) { createWorkspace(input: { name: $name }) { workspace { id databaseId } } }';

async function workspaces(token: string, names: string[]) {
  const created = [];
  for (const name of names) created.push(ok(await t.request<any>(CREATE_WORKSPACE, { name }, { token })).createWorkspace.workspace);
  return created;
}

describe('subscriptions', () => {
  it('deliver what commits, in feed order, over SSE and WebSocket (token in the payload or the upgrade header)', async () => {
    const org = await t.organization();
    const subscriptions = await openInTurn(t,
      () => subscribeSse(t, org.token),
      () => subscribeSse(url, org.token),
      () => subscribeWs(url, org.token, { tokenIn: 'payload' }),
    );
    const head = await feedHead(t, org.token);
    const created = await workspaces(org.token, ['a', 'b', 'c']);
    const feed = await readFeed(t, org.token, head);
    for (const subscription of subscriptions) {
      const events = await subscription.waitFor(3);
      expect(events.map((event) => event.subjectId)).toEqual(created.map((workspace) => workspace.id));
      expect(events).toEqual(feed);
    }
    await closeAll(t, subscriptions);
    const viaHeader = await openInTurn(t, () => subscribeWs(url, org.token, { tokenIn: 'header' }));
    await workspaces(org.token, ['d']);
    expect(kinds(await viaHeader[0]!.waitFor(1))).toEqual(['WORKSPACE CREATED']);
    await closeAll(t, viaHeader);
  });

  it('resume after a cursor: replay what followed it, then stream live, nothing twice', async () => {
    const org = await t.organization();
    const head = await feedHead(t, org.token);
    await workspaces(org.token, ['r1', 'r2', 'r3', 'r4']);
    const before = await readFeed(t, org.token, head);
    const [sse, ws] = await openInTurn(t,
      () => subscribeSse(t, org.token, { after: before[1]!.cursor }),
      () => subscribeWs(url, org.token, { after: head }),
    );
    await workspaces(org.token, ['r5']);
    const all = await readFeed(t, org.token, head);
    expect(await sse!.waitFor(3)).toEqual(all.slice(2));
    expect(await ws!.waitFor(5)).toEqual(all);
    await new Promise((r) => setTimeout(r, 300));
    expect(sse!.events).toHaveLength(3);
    expect(ws!.events).toHaveLength(5);
    await closeAll(t, [sse!, ws!]);
  });

  it('filter, and keep tenants and workspaces apart', async () => {
    const [a, b] = [await t.organization('A'), await t.organization('B')];
    const [mine, other] = await workspaces(a.token, ['mine', 'other']);
    const bound = await t.token({ organizationId: a.id, workspaceId: mine.databaseId, scopes: ['agent:read'] });
    const [fromB, fromBound, onlyOther] = await openInTurn(t,
      () => subscribeSse(t, b.token),
      () => subscribeWs(url, bound),
      () => subscribeSse(t, a.token, { filter: { workspaceId: other.id, subjectTypes: ['WORKSPACE'] } }),
    );
    const head = await feedHead(t, a.token);
    ok(await t.request('mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }', { id: other.id }, { token: a.token }));
    ok(await t.request('mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }', { id: mine.id }, { token: a.token }));
    await workspaces(b.token, ['b-only']);
    expect((await onlyOther!.waitFor(1))[0]).toMatchObject({ subjectId: other.id, action: 'DELETED' });
    expect((await fromBound!.waitFor(1))[0]).toMatchObject({ subjectId: mine.id, action: 'DELETED' });
    expect(kinds(await fromB!.waitFor(1))).toEqual(['WORKSPACE CREATED']);
    await new Promise((r) => setTimeout(r, 300));
    expect(fromB!.events).toHaveLength(1);
    expect(fromBound!.events).toHaveLength(1);
    expect(onlyOther!.events).toHaveLength(1);
    expect(await readFeed(t, a.token, head)).toHaveLength(2);
    await closeAll(t, [fromB!, fromBound!, onlyOther!]);
  });

  it('end with UNAUTHENTICATED when the token expires, then complete', async () => {
    const org = await t.organization();
    const shortLived = await t.token({ organizationId: org.id, expiresIn: '2s' });
    const [sse, ws] = await openInTurn(t, () => subscribeSse(t, shortLived), () => subscribeWs(url, shortLived));
    await Promise.all([sse!.done, ws!.done]);
    for (const subscription of [sse!, ws!]) {
      expect(JSON.stringify(subscription.errors)).toContain('UNAUTHENTICATED');
    }
    expect(t.services.changeFeed.openSubscriptions).toBe(0);
  });

  it('refuse subscriptions beyond the per-actor and per-instance limits; the open ones keep working', async () => {
    const org = await t.organization();
    const first = await openInTurn(t, () => subscribeSse(t, org.token), () => subscribeWs(url, org.token), () => subscribeSse(t, org.token));
    const refused = subscribeSse(t, org.token);
    await refused.done;
    expect(JSON.stringify(refused.errors)).toContain('RATE_LIMITED');
    const others = [];
    for (let i = 0; i < 3; i++) {
      const token = await t.token({ organizationId: org.id, subject: `other-${i}` });
      others.push(...(await openInTurn(t, () => subscribeSse(t, token), () => subscribeSse(t, token), () => subscribeWs(url, token))));
    }
    expect(t.services.changeFeed.openSubscriptions).toBe(12);
    const overInstance = subscribeWs(url, await t.token({ organizationId: org.id, subject: 'one-more' }));
    await overInstance.done;
    expect(JSON.stringify(overInstance.errors)).toContain('RATE_LIMITED');
    await workspaces(org.token, ['still']);
    for (const subscription of [...first, ...others]) expect(kinds(await subscription.waitFor(1))).toEqual(['WORKSPACE CREATED']);
    await closeAll(t, [...first, ...others]);
  });

  it('refuse bad cursors, missing scopes and missing tokens with their codes', async () => {
    const org = await t.organization();
    const position = decodeCursor(await feedHead(t, org.token), 'after');
    const cases: [Record<string, unknown>, string][] = [
      [{ after: 'garbage' }, 'BAD_USER_INPUT'],
      [{ after: encodeCursor({ ...position, time: Date.now() - 200 * 3_600_000 }) }, 'CURSOR_EXPIRED'],
    ];
    for (const [options, code] of cases) {
      for (const subscription of [subscribeSse(t, org.token, options), subscribeWs(url, org.token, options)]) {
        await subscription.done;
        expect(JSON.stringify(subscription.errors)).toContain(code);
      }
    }
    const noScope = await t.token({ organizationId: org.id, scopes: ['agent:update'] });
    const forbidden = subscribeSse(t, noScope);
    await forbidden.done;
    expect(JSON.stringify(forbidden.errors)).toContain('FORBIDDEN');

    const client = createWsClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
      client.on('closed', (event) => resolve(event as { code: number; reason: string })),
    );
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/UNAUTHENTICATED/);
    await client.dispose();
  });

  it('complete cleanly when the feed shuts down (SIGTERM)', async () => {
    const local = await startTestApp();
    const localUrl = await local.listen();
    const org = await local.organization();
    const sse = subscribeSse(local, org.token);
    const ws = subscribeWs(localUrl, org.token);
    await untilSubscribed(local, 2);
    await local.services.changeFeed.close();
    await Promise.all([sse.done, ws.done]);
    expect(sse.errors).toEqual([]);
    expect(ws.errors).toEqual([]);
    await local.close();
  });

  it('send keep-alives: SSE comments, WebSocket pings', async () => {
    const org = await t.organization();
    const response = await t.app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${org.token}` },
      body: JSON.stringify({ query: 'subscription { changes { cursor } }' }),
    });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe(':\n\n');
    await reader.cancel();

    const pinged = await new Promise<boolean>((resolve) => {
      const client = createWsClient({
        url: url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${org.token}` },
        lazy: false,
        retryAttempts: 0,
        on: { ping: (received) => received && (void client.dispose(), resolve(true)) },
      });
      setTimeout(() => resolve(false), 14_000);
    });
    expect(pinged).toBe(true);
  }, 20_000);

  it('do not buffer for a client that stops reading: the stream is pulled at the client pace', async () => {
    const org = await t.organization();
    const admin = await t.token({ scopes: ['platform:admin'] });
    let delivered = 0;
    t.services.changeFeed.onDelivered = () => delivered++;
    const { port } = new URL(url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const body = JSON.stringify({ query: 'subscription { changes { cursor action subjectType subjectId workspaceId catalogEntryId actorSubject occurredAt } }' });
    socket.write(
      `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\ncontent-type: application/json\r\nauthorization: Bearer ${org.token}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    socket.pause(); // never reads
    await untilSubscribed(t, 1);
    const provider = `flood-${Date.now()}`;
    const total = 40_000;
    for (let batch = 0; batch < total / 1000; batch++) {
      const entries = Array.from({ length: 1000 }, (_, i) => ({ modelProvider: provider, modelName: `m-${batch}-${i}` }));
      ok(await t.request('mutation($e: [PlatformCatalogEntryInput!]!) { upsertPlatformCatalog(input: { entries: $e }) { insertedCount } }', { e: entries }, { token: admin }));
    }
    await new Promise((r) => setTimeout(r, 1_000));
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThan(total * 0.75);
    socket.destroy();
    t.services.changeFeed.onDelivered = undefined;
  }, 120_000);
});
