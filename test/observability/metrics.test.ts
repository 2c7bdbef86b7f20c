import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { fakeProvider, json } from '../providers/fake-provider.ts';
import { subscribeSse } from '../changes/feed-client.ts';
import { scopedTransaction } from '../../src/db/scope.ts';
import { labelValues, parseSamples, sum, type Sample } from './prometheus.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);

async function scrape(t: TestApp, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type: string | null }> {
  const response = await t.app.fetch('http://test.local/metrics', { headers });
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
}

async function samples(t: TestApp): Promise<Sample[]> {
  const { status, text } = await scrape(t);
  expect(status).toBe(200);
  return parseSamples(text);
}

describe('GET /metrics', () => {
  let t: TestApp;
  let org: { id: string; token: string };
  let provider: Awaited<ReturnType<typeof fakeProvider>>;

  beforeAll(async () => {
    t = await startTestApp();
    org = await t.organization('Metrics Org');
    provider = await fakeProvider();
  });
  afterAll(async () => {
    await provider.close();
    await t.close();
  });

  it('counts exactly the requests made, by operation name, type and status', async () => {
    const before = await samples(t);
    const labels = { operationName: 'CountedWorkspaces', operationType: 'query' };
    for (let i = 0; i < 7; i++) ok(await t.request('query CountedWorkspaces { workspaces { totalCount } }', {}, { token: org.token }));
    const after = await samples(t);
    const moved = (name: string, extra: Record<string, string> = {}) => sum(after, name, { ...labels, ...extra }) - sum(before, name, { ...labels, ...extra });
    expect(moved('graphql_yoga_http_duration_count', { statusCode: '200' })).toBe(7);
    expect(moved('graphql_envelop_request')).toBe(7);
    expect(moved('graphql_envelop_phase_execute_count')).toBe(7);
    expect(moved('graphql_envelop_phase_validate_count')).toBeGreaterThan(0);
    expect(sum(after, 'graphql_envelop_phase_parse_count')).toBeGreaterThan(0);
    // Repeated answers may come from the response cache: at least the first one ran a transaction.
    const transactions = { scope: 'tenant', outcome: 'commit' };
    expect(
      sum(after, 'mcp_db_transaction_duration_seconds_count', transactions) - sum(before, 'mcp_db_transaction_duration_seconds_count', transactions),
    ).toBeGreaterThan(0);
  });

  it('counts errors by the code the client receives', async () => {
    const before = await samples(t);
    expect(codes(await t.request('query Broken { workspaces { ', {}, { token: org.token }))).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(codes(await t.request('query Unknown { noSuchField }', {}, { token: org.token }))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(await t.request('query Anonymousless { workspaces { totalCount } }', {}, { token: 'not-a-token' }))).toEqual(['UNAUTHENTICATED']);
    const missing = 'mutation DeleteMissing { deleteWorkspace(input: { id: "V29ya3NwYWNlOjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMA==" }) { deletedId } }';
    expect(codes(await t.request(missing, {}, { token: org.token }))).toEqual(['NOT_FOUND']);
    const after = await samples(t);
    const moved = (code: string, phase: string) =>
      sum(after, 'graphql_envelop_error_result', { code, phase }) - sum(before, 'graphql_envelop_error_result', { code, phase });
    expect(moved('GRAPHQL_PARSE_FAILED', 'parse')).toBe(1);
    expect(moved('GRAPHQL_VALIDATION_FAILED', 'validate')).toBe(1);
    expect(moved('UNAUTHENTICATED', 'context')).toBe(1);
    expect(moved('NOT_FOUND', 'execute')).toBe(1);
    for (const code of labelValues(after, 'graphql_envelop_error_result', 'code')) expect(code).toMatch(/^[A-Z_]+$/);
  });

  it('shows discovery runs by kind and outcome', async () => {
    const before = await samples(t);
    provider.answer((_req, res) => json(res, { data: [{ id: 'm-1' }] }));
    const created = ok(
      await t.request<any>(
        'mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { id } } }',
        { input: { displayName: 'Gateway', baseUrl: provider.url } },
        { token: org.token },
      ),
    ).createCustomProvider.customProvider;
    ok(await t.request('mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount } }', { id: created.id }, { token: org.token }));
    provider.answer((_req, res) => json(res, { error: 'down' }, 503));
    ok(await t.request('mutation($id: ID!) { validateCustomProvider(input: { id: $id }) { valid } }', { id: created.id }, { token: org.token }));
    const after = await samples(t);
    const moved = (labels: Record<string, string>) =>
      sum(after, 'mcp_discovery_duration_seconds_count', labels) - sum(before, 'mcp_discovery_duration_seconds_count', labels);
    expect(moved({ kind: 'refresh', outcome: 'succeeded' })).toBe(1);
    expect(moved({ kind: 'validate', outcome: 'http_error' })).toBe(1);
  });

  it('shows open subscriptions and the delivery lag of the change feed', async () => {
    const before = await samples(t);
    const subscription = subscribeSse(t, org.token);
    try {
      await expect.poll(async () => sum(await samples(t), 'mcp_subscriptions_open'), { timeout: 5_000 }).toBe(1);
      const created = ok(await t.request<any>('mutation { createWorkspace(input: { name: "watched" }) { workspace { id } } }', {}, { token: org.token }));
      // Changes of the tests before may still be on their way: every delivered event is measured once.
      const delivered = async () => sum(await samples(t), 'mcp_change_feed_delivery_lag_seconds_count') - sum(before, 'mcp_change_feed_delivery_lag_seconds_count');
      await expect.poll(() => subscription.events.some((event) => event.subject?.id === created.createWorkspace.workspace.id), { timeout: 10_000 }).toBe(true);
      expect(await delivered()).toBe(subscription.events.length);
    } finally {
      subscription.close();
    }
    await expect.poll(async () => sum(await samples(t), 'mcp_subscriptions_open'), { timeout: 5_000 }).toBe(0);
  });

  it('shows the database connections and Node default metrics, in Prometheus text without tenant data', async () => {
    const { text, type } = await scrape(t);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const all = parseSamples(text);
    expect(sum(all, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(all.some((sample) => sample.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
    expect(labelValues(all, 'mcp_db_pool_connections', 'state')).toEqual(new Set(['in_use', 'idle']));
    expect(all.some((sample) => sample.name === 'mcp_db_pool_waiting')).toBe(true);
    // Nothing of a tenant: not its id, name, token subject, nor an argument value sent above.
    for (const tenantData of [org.id, 'Metrics Org', 'tester', 'watched', 'Gateway', provider.url, 'm-1']) expect(text).not.toContain(tenantData);
  });

  it.skipIf(onPostgres)('shows the embedded database\'s one connection in use or idle, and the callers waiting for it', async () => {
    const connection = async () => {
      const all = await samples(t);
      return {
        inUse: sum(all, 'mcp_db_pool_connections', { state: 'in_use' }),
        idle: sum(all, 'mcp_db_pool_connections', { state: 'idle' }),
        waiting: sum(all, 'mcp_db_pool_waiting'),
      };
    };
    await expect.poll(connection, { timeout: 5_000 }).toEqual({ inUse: 0, idle: 1, waiting: 0 });
    const { promise: held, resolve: release } = Promise.withResolvers<void>();
    const holding = scopedTransaction(t.services.database.prisma, { kind: 'feed' }, async (tx) => {
      await tx.$queryRaw`SELECT 1`;
      await held;
    });
    await expect.poll(connection, { timeout: 5_000 }).toEqual({ inUse: 1, idle: 0, waiting: 0 });
    const queued = [t.services.database.query('SELECT 1'), t.services.database.query('SELECT 2')];
    await expect.poll(connection, { timeout: 5_000 }).toEqual({ inUse: 1, idle: 0, waiting: 2 });
    release();
    await holding;
    await Promise.all(queued);
    await expect.poll(connection, { timeout: 5_000 }).toEqual({ inUse: 0, idle: 1, waiting: 0 });
  });

  it.skipIf(onPostgres)('runs the embedded database with its own settings', async () => {
    const [row] = await t.services.database.query<{ shared_buffers: string }>('SHOW shared_buffers');
    expect(row!.shared_buffers).toBe('16MB');
  });
});

describe('GET /metrics guard and switch', () => {
  it('labels only executed operation names, at most METRICS_MAX_OPERATION_NAMES of them; the rest share one value', async () => {
    const t = await startTestApp({ METRICS_MAX_OPERATION_NAMES: '2' });
    try {
      const org = await t.organization();
      // Never executed: refused before execution (no valid token), or not valid.
      expect(codes(await t.request('query NeverAuthenticated { workspaces { totalCount } }', {}, { token: 'bad' }))).toEqual(['UNAUTHENTICATED']);
      expect(codes(await t.request('query NeverValid { nope }', {}, { token: org.token }))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      for (const name of ['First', 'Second', 'Third', 'Fourth']) ok(await t.request(`query ${name} { workspaces { totalCount } }`, {}, { token: org.token }));
      ok(await t.request('{ workspaces { totalCount } }', {}, { token: org.token }));
      const all = await samples(t);
      expect(labelValues(all, 'graphql_yoga_http_duration_count', 'operationName')).toEqual(new Set(['First', 'Second', '(other)', '(anonymous)']));
      expect(sum(all, 'graphql_envelop_request', { operationName: '(other)' })).toBe(2);
      expect(sum(all, 'graphql_envelop_request', { operationName: 'First' })).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('names no label for requests without a token: anonymous introspection counts under (anonymous), whatever its names', async () => {
    const t = await startTestApp({ METRICS_MAX_OPERATION_NAMES: '3', INTROSPECTION: 'public' });
    try {
      const org = await t.organization();
      const anonymous = (query: string, variables?: Record<string, unknown>) => t.request(query, variables, { token: null });
      for (let i = 0; i < 5; i++) ok(await anonymous(`query AnonLabel${i} { __typename }`));
      ok(await anonymous('query AnonSchema($includeDeprecated: Boolean = false) { __schema { queryType { name } } __type(name: "Query") { fields(includeDeprecated: $includeDeprecated) { name } } }'));
      expect(codes(await anonymous('query AnonRefused { workspaces { totalCount } }'))).toEqual(['UNAUTHENTICATED']);
      // An anonymous subscription is refused like a query (and its name not admitted either).
      const sse = await t.app.fetch('http://test.local/graphql', {
        method: 'POST',
        headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'subscription AnonStream { changes { cursor } }' }),
      });
      expect(sse.status).toBe(401);
      expect(await sse.text()).toContain('"code":"UNAUTHENTICATED"');
      // The budget is still whole for authenticated operations.
      for (const name of ['Named1', 'Named2', 'Named3', 'Named4']) ok(await t.request(`query ${name} { __typename }`, {}, { token: org.token }));
      // A name admitted for authenticated callers still labels nothing sent anonymously.
      ok(await anonymous('query Named1 { __typename }'));
      const all = await samples(t);
      for (const metric of ['graphql_yoga_http_duration_count', 'graphql_envelop_request', 'graphql_envelop_phase_parse_count', 'graphql_envelop_error_result']) {
        for (const name of labelValues(all, metric, 'operationName')) expect(name, metric).not.toMatch(/^Anon/);
      }
      expect(labelValues(all, 'graphql_envelop_request', 'operationName')).toEqual(new Set(['Named1', 'Named2', 'Named3', '(other)', '(anonymous)']));
      // Seven answered and two refused (a query and the subscription), all under one label.
      expect(sum(all, 'graphql_envelop_request', { operationName: '(anonymous)' })).toBe(9);
      expect(sum(all, 'graphql_envelop_request', { operationName: 'Named1' })).toBe(1);
      expect(sum(all, 'graphql_yoga_http_duration_count', { operationName: '(anonymous)', statusCode: '200' })).toBe(7);
    } finally {
      await t.close();
    }
  });

  it('answers only the configured bearer token when METRICS_TOKEN is set, and never counts against the rate limit', async () => {
    const token = 'metrics-token-0123456789abcdef';
    const t = await startTestApp({ METRICS_TOKEN: token, RATE_LIMIT_POINTS: '2' });
    try {
      expect((await scrape(t)).status).toBe(401);
      expect((await scrape(t, { authorization: 'Bearer wrong-token-0123456789abcdef' })).status).toBe(401);
      expect((await scrape(t, { authorization: token })).status).toBe(401);
      const org = await t.organization();
      for (let i = 0; i < 2; i++) ok(await t.request('{ workspaces { totalCount } }', {}, { token: org.token }));
      expect(codes(await t.request('{ workspaces { totalCount } }', {}, { token: org.token }))).toEqual(['RATE_LIMITED']);
      for (let i = 0; i < 5; i++) {
        const scraped = await scrape(t, { authorization: `Bearer ${token}` });
        expect(scraped.status).toBe(200);
        expect(sum(parseSamples(scraped.text), 'mcp_rate_limited_total', { limit: 'requests' })).toBe(1);
      }
      const post = await t.app.fetch('http://test.local/metrics', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(post.status).toBe(405);
    } finally {
      await t.close();
    }
  });

  it('counts subscriptions refused by the per-actor limit', async () => {
    const t = await startTestApp({ MAX_SUBSCRIPTIONS_PER_ACTOR: '1' });
    const org = await t.organization();
    const first = subscribeSse(t, org.token);
    try {
      await expect.poll(async () => sum(await samples(t), 'mcp_subscriptions_open'), { timeout: 5_000 }).toBe(1);
      const second = subscribeSse(t, org.token);
      await second.done;
      expect(second.errors.length).toBeGreaterThan(0);
      const all = await samples(t);
      expect(sum(all, 'mcp_rate_limited_total', { limit: 'subscriptions_per_actor' })).toBe(1);
      expect(sum(all, 'mcp_subscriptions_open')).toBe(1);
    } finally {
      first.close();
      await t.close();
    }
  });

  it('is not served with METRICS_ENABLED=false', async () => {
    const t = await startTestApp({ METRICS_ENABLED: 'false' });
    try {
      expect(t.services.metrics).toBeUndefined();
      expect((await scrape(t)).status).toBe(404);
      const org = await t.organization();
      ok(await t.request('{ workspaces { totalCount } }', {}, { token: org.token }));
    } finally {
      await t.close();
    }
  });

  it('refuses a METRICS_TOKEN too short to be a secret', async () => {
    await expect(startTestApp({ METRICS_TOKEN: 'short' })).rejects.toThrow(/METRICS_TOKEN/);
  });

});
