import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { createClient as createWsClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestApp, ok, JWT_SECRET, type GraphQLResponse, type TestApp } from '../support/harness.ts';
import { subscribeSse, subscribeWs, untilSubscribed } from '../changes/feed-client.ts';

// SPEC §17 "Authentication answers": every 401 carries the Bearer challenge of RFC 6750,
// an anonymous subscription over SSE is refused like a query, a WebSocket connection
// lives no longer than its token, and WebSocket errors carry what HTTP errors carry.

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const CHALLENGE = 'Bearer';
const INVALID_TOKEN = /^Bearer error="invalid_token", error_description="[^"\\]+"$/;

/** A token that expires at the start of the second after next (1–2 s from now). */
async function expiringToken(organizationId: string, seconds = 2): Promise<{ token: string; expiresAt: number }> {
  const exp = Math.floor(Date.now() / 1000) + seconds;
  const token = await new SignJWT({ org_id: organizationId, scope: 'agent:read' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('short-lived')
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(JWT_SECRET));
  return { token, expiresAt: exp * 1000 };
}

const expired = (organizationId: string) =>
  new SignJWT({ org_id: organizationId, scope: '*' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('x')
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(new TextEncoder().encode(JWT_SECRET));

async function post(t: TestApp, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return t.app.fetch('http://test.local/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** An SSE subscription request as graphql-sse sends it (distinct connections). */
const sse = (t: TestApp, query: string, headers: Record<string, string> = {}) =>
  post(t, { query }, { accept: 'text/event-stream', ...headers });

async function expectUnauthenticated(response: Response, challenge: string | RegExp) {
  expect(response.status).toBe(401);
  const header = response.headers.get('www-authenticate');
  if (typeof challenge === 'string') expect(header).toBe(challenge);
  else expect(header).toMatch(challenge);
  expect(await response.text()).toContain('"code":"UNAUTHENTICATED"');
}

describe('401 answers', () => {
  let t: TestApp;
  let org: { id: string; token: string };
  beforeAll(async () => {
    t = await startTestApp({ INTROSPECTION: 'authenticated', METRICS_TOKEN });
    org = await t.organization();
  });
  afterAll(() => t.close());

  it('carry WWW-Authenticate: Bearer over HTTP GraphQL, naming invalid_token when a token was sent', async () => {
    await expectUnauthenticated(await post(t, { query: '{ viewer { subject } }' }), CHALLENGE);
    await expectUnauthenticated(await post(t, { query: '{ viewer { subject } }' }, { authorization: 'Basic dXNlcjpwYXNz' }), CHALLENGE);
    await expectUnauthenticated(await post(t, { query: '{ viewer { subject } }' }, { authorization: 'Bearer not-a-jwt' }), INVALID_TOKEN);
    const old = await post(t, { query: '{ viewer { subject } }' }, { authorization: `Bearer ${await expired(org.id)}` });
    expect(old.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="token expired"');
    await expectUnauthenticated(old, INVALID_TOKEN);
    await expectUnauthenticated(
      await t.app.fetch('http://test.local/graphql?query=%7B__typename%7D', { headers: { 'x-graphql-yoga-csrf': '1' } }),
      CHALLENGE,
    );
    // Not on other answers.
    const fine = await post(t, { query: '{ viewer { subject } }' }, { authorization: `Bearer ${org.token}` });
    expect(fine.status).toBe(200);
    expect(fine.headers.get('www-authenticate')).toBeNull();
  });

  it('carry it over SSE, for a subscription without a token or with an invalid one', async () => {
    await expectUnauthenticated(await sse(t, 'subscription { changes { cursor } }'), CHALLENGE);
    await expectUnauthenticated(await sse(t, 'subscription { changes { cursor } }', { authorization: 'Bearer not-a-jwt' }), INVALID_TOKEN);
  });

  it('carry it at /schema.graphql and at /metrics with METRICS_TOKEN', async () => {
    await expectUnauthenticated(await t.app.fetch('http://test.local/schema.graphql'), CHALLENGE);
    await expectUnauthenticated(
      await t.app.fetch('http://test.local/schema.graphql', { headers: { authorization: 'Bearer not-a-jwt' } }),
      INVALID_TOKEN,
    );
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789abcdef' }] as Record<string, string>[]) {
      const metrics = await t.app.fetch('http://test.local/metrics', { headers });
      expect(metrics.status).toBe(401);
      expect(metrics.headers.get('www-authenticate')).toBe(CHALLENGE);
    }
  });
});

describe('anonymous callers where introspection is public', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ INTROSPECTION: 'public' });
  });
  afterAll(() => t.close());

  it('may introspect, over HTTP and SSE', async () => {
    expect(ok((await (await post(t, { query: '{ __typename }' })).json()) as GraphQLResponse<unknown>)).toEqual({ __typename: 'Query' });
    const stream = await sse(t, 'query { __schema { queryType { name } } }');
    expect(stream.status).toBe(200);
    expect(await stream.text()).toContain('"queryType":{"name":"Query"}');
  });

  it('are refused anything else with 401 UNAUTHENTICATED and the challenge: a query, and a subscription over SSE like a query', async () => {
    await expectUnauthenticated(await post(t, { query: '{ workspaces { totalCount } }' }), CHALLENGE);
    for (const query of [
      'subscription { changes { cursor } }',
      'subscription Named($after: String) { changes(after: $after) { cursor } }',
      'subscription Hidden { changes(filter: { subjectTypes: [WORKSPACE] }) { cursor } }',
    ]) {
      const response = await sse(t, query);
      expect(response.status, query).toBe(401);
      await expectUnauthenticated(response, CHALLENGE);
    }
    expect(t.services.changeFeed.openSubscriptions).toBe(0);
  });
});

/** Every message a graphql-ws subscription receives, until it completes or fails. */
function wsCollect(client: Client, payload: { query: string; variables?: Record<string, unknown> }) {
  const results: { errors?: unknown[]; data?: unknown }[] = [];
  const done = new Promise<{ results: typeof results; error?: unknown }>((resolve) => {
    client.subscribe(payload, {
      next: (result) => void results.push(result as never),
      error: (error) => resolve({ results, error }),
      complete: () => resolve({ results }),
    });
  });
  return done;
}

function wsClient(url: string, token: string): { client: Client; closed: Promise<{ code: number; reason: string; at: number }> } {
  let resolveClosed!: (event: { code: number; reason: string; at: number }) => void;
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => (resolveClosed = resolve));
  const client = createWsClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: 0,
    // The close is what these tests watch (`closed`), not an error to print.
    onNonLazyError: () => {},
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        resolveClosed({ code, reason, at: Date.now() });
      },
    },
  });
  return { client, closed };
}

describe('WebSocket connections', () => {
  let t: TestApp;
  let url: string;
  let org: { id: string; token: string };
  beforeAll(async () => {
    t = await startTestApp();
    url = await t.listen();
    org = await t.organization();
  });
  afterAll(() => t.close());

  it('close with 4401 when the token expires, idle (never subscribed) or after a query', async () => {
    for (const use of ['idle', 'queried'] as const) {
      const { token, expiresAt } = await expiringToken(org.id);
      const { client, closed } = wsClient(url, token);
      if (use === 'queried') {
        const { results } = await wsCollect(client, { query: '{ viewer { subject } }' });
        expect(results).toEqual([{ data: { viewer: { subject: 'short-lived' } } }]);
      }
      const event = await closed;
      expect(event.code).toBe(4401);
      expect(event.reason).toMatch(/UNAUTHENTICATED/);
      expect(event.at).toBeGreaterThanOrEqual(expiresAt);
      expect(event.at - expiresAt).toBeLessThan(1_500);
      await client.dispose();
    }
  });

  it('close with 4401 when the token expires after their subscriptions ended with UNAUTHENTICATED and completed', async () => {
    const { token, expiresAt } = await expiringToken(org.id);
    const { client, closed } = wsClient(url, token);
    const [first, second] = [
      wsCollect(client, { query: 'subscription { changes { cursor } }' }),
      wsCollect(client, { query: 'subscription($f: ChangeEventFilter) { changes(filter: $f) { cursor } }', variables: { f: { subjectTypes: ['WORKSPACE'] } } }),
    ];
    await untilSubscribed(t, 2);
    for (const ended of await Promise.all([first, second])) {
      expect(ended.error).toBeUndefined();
      // The last message is the error, with what HTTP would show of it and nothing internal.
      expect(ended.results.at(-1)?.errors).toEqual([expect.objectContaining({ message: 'token expired', extensions: { code: 'UNAUTHENTICATED' } })]);
    }
    const event = await closed;
    expect(event.code).toBe(4401);
    expect(event.at).toBeGreaterThanOrEqual(expiresAt);
    expect(event.at - expiresAt).toBeLessThan(1_500);
    expect(t.services.changeFeed.openSubscriptions).toBe(0);
    await client.dispose();
  });

  it('stay open, with their subscriptions, while a long-lived token is valid (beyond what one timer can wait)', async () => {
    const token = await t.token({ organizationId: org.id, scopes: ['agent:read', 'workspace:create'], expiresIn: '60d' });
    const { client, closed } = wsClient(url, token);
    let closedEarly = false;
    void closed.then(() => (closedEarly = true));
    const ws = subscribeWs(url, token);
    const viaSse = subscribeSse(t, token);
    await untilSubscribed(t, 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    ok(await t.request('mutation { createWorkspace(input: { name: "long-lived" }) { workspace { id } } }', {}, { token }));
    for (const subscription of [ws, viaSse]) {
      expect((await subscription.waitFor(1))[0]).toMatchObject({ subjectType: 'WORKSPACE', action: 'CREATED' });
      expect(subscription.errors).toEqual([]);
      subscription.close();
    }
    expect((await wsCollect(client, { query: '{ viewer { subject } }' })).results).toEqual([{ data: { viewer: { subject: 'tester' } } }]);
    expect(closedEarly).toBe(false);
    await client.dispose();
  });

  it('send errors with the same extensions as HTTP and SSE, nothing internal', async () => {
    const noScope = await t.token({ organizationId: org.id, scopes: ['agent:update'] });
    const { client } = wsClient(url, org.token);
    const { client: limited } = wsClient(url, noScope);
    const cases: { token: string; client: Client; query: string; variables?: Record<string, unknown> }[] = [
      { token: noScope, client: limited, query: '{ workspaces { totalCount } }' },
      { token: noScope, client: limited, query: 'subscription { changes { cursor } }' },
      { token: org.token, client, query: 'subscription($c: String) { changes(after: $c) { cursor } }', variables: { c: 'garbage' } },
      { token: org.token, client, query: '{ noSuchField }' },
      { token: org.token, client, query: '{ workspaces(first: 1000) { totalCount } }' },
    ];
    for (const { token, client: socket, query, variables } of cases) {
      const overWs = await wsCollect(socket, { query, variables });
      const wsErrors = (overWs.error as unknown[] | undefined) ?? overWs.results.flatMap((result) => result.errors ?? []);
      const overHttp = query.startsWith('subscription')
        ? await sseErrors(t, token, query, variables)
        : ((await (await post(t, { query, variables }, { authorization: `Bearer ${token}` })).json()) as GraphQLResponse<unknown>).errors;
      expect(wsErrors.length, query).toBeGreaterThan(0);
      expect(wsErrors.map((error) => (error as { extensions?: unknown }).extensions), query).toEqual(overHttp!.map((error) => error.extensions));
      expect(JSON.stringify(wsErrors)).not.toMatch(/"http"|"unexpected"/);
    }
    await client.dispose();
    await limited.dispose();
  });
});

/** The errors of a subscription's events over SSE. */
async function sseErrors(t: TestApp, token: string, query: string, variables?: Record<string, unknown>) {
  const response = await post(t, { query, variables }, { accept: 'text/event-stream', authorization: `Bearer ${token}` });
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .flatMap((line) => ((JSON.parse(line.slice(6)) as GraphQLResponse<unknown>).errors ?? []));
}
