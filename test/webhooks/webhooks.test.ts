import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { codes, ok, startTestApp, type TestApp } from '../support/harness.ts';
import { encodeCursor } from '../../src/modules/changes/position.ts';
import { validateWebhookUrl } from '../../src/modules/webhooks/url.ts';
import { SecretBox } from '../../src/security/crypto.ts';
import { sealSecrets } from '../../src/modules/webhooks/secrets.ts';
import { scopedTransaction } from '../../src/db/scope.ts';
import { startReceiver, type Receiver } from './receiver.ts';

let app: TestApp;
const receivers: Receiver[] = [];

beforeAll(async () => {
  app = await startTestApp({
    WEBHOOK_RETRY_SCHEDULE: '300ms,300ms',
    WEBHOOK_TIMEOUT_MS: '2000',
    WEBHOOK_LEASE_MS: '5000',
    WEBHOOK_SECRET_OVERLAP_HOURS: '1',
  });
  await app.services.webhooks.start();
}, 60_000);
afterAll(async () => {
  for (const receiver of receivers) await receiver.close();
  await app?.close();
});

async function receiver(...args: Parameters<typeof startReceiver>) {
  const started = await startReceiver(...args);
  receivers.push(started);
  return started;
}

const CREATE = `mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret webhookEndpoint { id databaseId url description enabled disabledReason filter { subjectTypes workspaceId } } }
}`;
const DELIVERIES = `query($status: WebhookDeliveryStatus) { webhookEndpoints(first: 5) { edges { node { id enabled disabledReason failingSince lastSuccessAt
  deliveries(first: 50, status: $status) { edges { node { webhookId eventCursor eventType status attempts lastResponseStatus lastError nextAttemptAt lastAttemptAt } } } } } } }`;

async function createEndpoint(token: string, input: Record<string, unknown>) {
  return ok(await app.request<any>(CREATE, { input }, { token })).createWebhookEndpoint as {
    secret: string;
    webhookEndpoint: { id: string; databaseId: string; url: string; enabled: boolean; filter: unknown };
  };
}

async function createWorkspace(token: string, name: string): Promise<string> {
  return ok(await app.request<any>('mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: name }, { token }))
    .createWorkspace.workspace.id;
}

async function feed(token: string, after?: string) {
  return ok(
    await app.request<any>(
      'query($after: String) { changeEvents(first: 100, after: $after) { edges { node { cursor subjectType subjectId action workspaceId occurredAt } } } }',
      { after },
      { token },
    ),
  ).changeEvents.edges.map((edge: { node: unknown }) => edge.node) as {
    cursor: string;
    subjectType: string;
    subjectId: string | null;
    action: string;
    workspaceId: string | null;
    occurredAt: string;
  }[];
}

/** The endpoints with their deliveries once `done` holds for them (attempts are recorded after the answer). */
async function deliveriesOnceRecorded(token: string, done: (endpoints: any[]) => boolean, status?: string, timeoutMs = 10_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const endpoints = ok(await app.request<any>(DELIVERIES, { status }, { token })).webhookEndpoints.edges.map((edge: any) => edge.node);
    if (done(endpoints)) return endpoints;
    if (Date.now() > deadline) throw new Error(`deliveries not as expected: ${JSON.stringify(endpoints)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const head = async (token: string) => ok(await app.request<any>('{ changeFeedHead }', {}, { token })).changeFeedHead as string;

describe('webhook endpoints', () => {
  it('are created with a secret shown once, listed without it, audited, and refused to workspace-bound tokens and tokens without webhooks:manage', async () => {
    const org = await app.organization('Endpoints');
    const hook = await receiver();
    const created = await createEndpoint(org.token, { url: hook.url, description: '  CI sync  ' });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(created.secret.slice(6), 'base64')).toHaveLength(32);
    expect(created.webhookEndpoint).toMatchObject({ url: hook.url, description: 'CI sync', enabled: true, disabledReason: null, filter: null });

    const listed = ok(await app.request<any>('{ webhookEndpoints { totalCount edges { node { id url } } } }', {}, { token: org.token }));
    expect(listed.webhookEndpoints.totalCount).toBe(1);
    expect(JSON.stringify(listed)).not.toContain(created.secret.slice(6, 20));

    const stored = await app.services.database.query<{ encrypted_secret: Uint8Array }>('SELECT encrypted_secret FROM webhook_endpoint');
    expect(Buffer.from(stored[0]!.encrypted_secret).toString('latin1')).not.toContain(created.secret.slice(6, 20));
    expect(app.logs.join('')).not.toContain(created.secret.slice(6, 20));

    const reader = await app.token({ organizationId: org.id, scopes: ['agent:read', 'agent:update'] });
    const refused = await app.request<any>('{ webhookEndpoints { totalCount } }', {}, { token: reader });
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.errors![0]!.extensions).toMatchObject({ requiredScopes: ['webhooks:manage'], missingScopes: ['webhooks:manage'] });
    const node = await app.request<any>('query($id: ID!) { node(id: $id) { id ... on WebhookEndpoint { url } } }', { id: created.webhookEndpoint.id }, { token: reader });
    expect(node.data?.node ?? null).toBeNull();
    expect(new Set(codes(node))).toEqual(new Set(['FORBIDDEN']));

    const workspace = await createWorkspace(org.token, 'bound');
    const bound = await app.token({ organizationId: org.id, workspaceId: Buffer.from(workspace, 'base64url').toString().split(':')[1], scopes: ['*'] });
    expect(codes(await app.request<any>('{ webhookEndpoints { totalCount } }', {}, { token: bound }))).toEqual(['FORBIDDEN']);
    expect(codes(await app.request<any>(CREATE, { input: { url: hook.url } }, { token: bound }))).toEqual(['FORBIDDEN']);

    // Another organization sees nothing of it and cannot change it.
    const other = await app.organization('Other');
    expect(ok(await app.request<any>('{ webhookEndpoints { totalCount } }', {}, { token: other.token })).webhookEndpoints.totalCount).toBe(0);
    const foreign = await app.request<any>('mutation($id: ID!) { deleteWebhookEndpoint(input: { id: $id }) { deletedId } }', { id: created.webhookEndpoint.id }, { token: other.token });
    expect(codes(foreign)).toEqual(['NOT_FOUND']);

    const rotated = ok(await app.request<any>('mutation($id: ID!) { rotateWebhookSecret(input: { id: $id }) { secret webhookEndpoint { secretRotatedAt } } }', { id: created.webhookEndpoint.id }, { token: org.token }));
    expect(rotated.rotateWebhookSecret.secret).not.toBe(created.secret);
    expect(rotated.rotateWebhookSecret.webhookEndpoint.secretRotatedAt).not.toBeNull();
    ok(await app.request<any>('mutation($id: ID!) { updateWebhookEndpoint(input: { id: $id, enabled: false }) { webhookEndpoint { enabled } } }', { id: created.webhookEndpoint.id }, { token: org.token }));
    const replay = await app.request<any>('mutation($id: ID!, $after: String!) { replayWebhookEvents(input: { id: $id, after: $after }) { queuedCount } }', { id: created.webhookEndpoint.id, after: await head(org.token) }, { token: org.token });
    expect(ok(replay).replayWebhookEvents.queuedCount).toBe(0);
    ok(await app.request<any>('mutation($id: ID!) { deleteWebhookEndpoint(input: { id: $id }) { deletedId } }', { id: created.webhookEndpoint.id }, { token: org.token }));

    const audit = ok(await app.request<any>('{ auditEvents(first: 20, filter: { resourceType: "webhook_endpoint" }) { edges { node { action status } } } }', {}, { token: org.token }));
    expect(audit.auditEvents.edges.map((edge: any) => `${edge.node.action}:${edge.node.status}`).reverse()).toEqual([
      'create:SUCCESS',
      'create:FAILURE',
      'rotate:SUCCESS',
      'update:SUCCESS',
      'replay:SUCCESS',
      'delete:SUCCESS',
    ]);
  });

  it('deliver each event as a Standard Webhook that the standardwebhooks library verifies, with the payload of SPEC §19', async () => {
    const org = await app.organization('Delivered');
    const hook = await receiver();
    const { secret, webhookEndpoint } = await createEndpoint(org.token, { url: hook.url });
    const start = await head(org.token);
    const workspaceId = await createWorkspace(org.token, 'first');
    const [request] = await hook.waitFor(1);
    const event = (await feed(org.token, start))[0]!;
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/json');
    const verified = new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>);
    expect(verified).toEqual({
      type: 'workspace.created',
      timestamp: event.occurredAt,
      data: { cursor: event.cursor, subjectType: 'WORKSPACE', subjectId: workspaceId, action: 'CREATED', workspaceId, occurredAt: event.occurredAt },
    });
    expect(Math.abs(Number(request!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    // A body changed on the way, or another secret, does not verify.
    expect(() => new Webhook(secret).verify(request!.body.replace('CREATED', 'DELETED'), request!.headers as Record<string, string>)).toThrow();
    const [deliveries] = await deliveriesOnceRecorded(org.token, ([endpoint]) => endpoint.deliveries.edges[0]?.node.status === 'SUCCEEDED');
    expect(deliveries.lastSuccessAt).not.toBeNull();
    expect(deliveries.deliveries.edges[0].node).toMatchObject({
      webhookId: request!.headers['webhook-id'],
      eventCursor: event.cursor,
      eventType: 'workspace.created',
      status: 'SUCCEEDED',
      attempts: 1,
      lastResponseStatus: 200,
      nextAttemptAt: null,
    });
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(request!.body, request!.headers as Record<string, string>)).toThrow();
    expect(webhookEndpoint.databaseId).toBeTruthy();
  });

  it('send first attempts in feed order, and a retry with the same webhook-id that does not hold back later events', async () => {
    const org = await app.organization('Ordered');
    // The first delivery of the third event fails once; the others succeed.
    let failedOnce = false;
    const hook = await receiver((request) => {
      const body = JSON.parse(request.body) as { data: { subjectId: string } };
      if (!failedOnce && body.data.subjectId === third) {
        failedOnce = true;
        return { status: 500 };
      }
      return { status: 200 };
    });
    let third = '';
    const { secret } = await createEndpoint(org.token, { url: hook.url });
    const start = await head(org.token);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push(await createWorkspace(org.token, `w${i}`));
      if (i === 2) third = ids[2]!;
    }
    const received = await hook.waitFor(13);
    const events = await feed(org.token, start);
    const webhook = new Webhook(secret);
    const bodies = received.map((request) => webhook.verify(request.body, request.headers as Record<string, string>) as { data: { cursor: string } });
    // First attempts in feed order; the retry of the third arrives after later events.
    const retryIndex = received.findLastIndex((request) => request.headers['webhook-id'] === received[2]!.headers['webhook-id']);
    expect(retryIndex).toBeGreaterThan(3);
    const firstAttempts = bodies.filter((_body, index) => index !== retryIndex).map((body) => body.data.cursor);
    expect(firstAttempts).toEqual(events.map((event) => event.cursor));
    expect(bodies[retryIndex]).toEqual(bodies[2]);
    const [endpoint] = await deliveriesOnceRecorded(org.token, ([e]) => e.deliveries.edges.every((edge: any) => edge.node.status === 'SUCCEEDED'));
    const retried = endpoint.deliveries.edges.map((edge: any) => edge.node).find((node: any) => node.attempts === 2);
    expect(retried).toMatchObject({ webhookId: received[2]!.headers['webhook-id'], lastResponseStatus: 200, lastError: null });
    expect(endpoint.failingSince).toBeNull();
  });

  it('retry on the schedule, later when Retry-After says so, then mark the delivery FAILED; a redirect is a failure; 410 disables the endpoint at once', async () => {
    const org = await app.organization('Failing');
    const hook = await receiver((_request, index) =>
      index === 0 ? { status: 503, headers: { 'retry-after': '2' } } : index === 1 ? { status: 302, headers: { location: 'http://127.0.0.1:1/' } } : { status: 500, body: 'x'.repeat(100_000) },
    );
    await createEndpoint(org.token, { url: hook.url });
    await createWorkspace(org.token, 'doomed');
    const received = await hook.waitFor(3, 15_000);
    // Retry-After: 2 s rather than the 300 ms of the schedule.
    expect(received[1]!.at - received[0]!.at).toBeGreaterThanOrEqual(1_900);
    expect(new Set(received.map((request) => request.headers['webhook-id'])).size).toBe(1);
    const [endpoint] = await deliveriesOnceRecorded(org.token, ([e]) => e.deliveries.edges[0]?.node.status === 'FAILED');
    expect(endpoint.deliveries.edges[0].node).toMatchObject({ attempts: 3, lastResponseStatus: 500, lastError: 'answered HTTP 500', nextAttemptAt: null });
    expect(endpoint.failingSince).not.toBeNull();
    expect(endpoint.enabled).toBe(true);
    expect(hook.received).toHaveLength(3);
    // Failing for longer than WEBHOOK_DISABLE_AFTER_HOURS (its start moved back): the next failure disables it.
    await app.services.database.query(`UPDATE webhook_endpoint SET failing_since = now() - interval '121 hours' WHERE organization_id = $1`, [org.id]);
    await createWorkspace(org.token, 'last straw');
    await hook.waitFor(4);
    const [failing] = await deliveriesOnceRecorded(org.token, ([e]) => !e.enabled);
    expect(failing).toMatchObject({ enabled: false, disabledReason: 'FAILING' });

    const gone = await app.organization('Gone');
    const goneHook = await receiver(() => ({ status: 410 }));
    await createEndpoint(gone.token, { url: goneHook.url });
    await createWorkspace(gone.token, 'a');
    await goneHook.waitFor(1);
    const [disabled] = await deliveriesOnceRecorded(gone.token, ([e]) => !e.enabled);
    expect(disabled).toMatchObject({ enabled: false, disabledReason: 'GONE' });
    expect(disabled.deliveries.edges[0].node).toMatchObject({ status: 'FAILED', attempts: 1, lastResponseStatus: 410 });
    // Events committed while disabled are not queued for it.
    await createWorkspace(gone.token, 'b');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(goneHook.received).toHaveLength(1);
    const [after] = await deliveriesOnceRecorded(gone.token, () => true);
    expect(after.deliveries.edges).toHaveLength(1);
  });

  it('deliver only what the filter matches: subject types and workspace, given as literals or variables', async () => {
    const org = await app.organization('Filtered');
    const workspace = await createWorkspace(org.token, 'watched');
    const byType = await receiver();
    const byWorkspace = await receiver();
    const created = ok(
      await app.request<any>(
        `mutation($url: String!) { createWebhookEndpoint(input: { url: $url, filter: { subjectTypes: [CATALOG_ENTRY, CATALOG_ENTRY] } }) { webhookEndpoint { filter { subjectTypes workspaceId } } } }`,
        { url: byType.url },
        { token: org.token },
      ),
    );
    expect(created.createWebhookEndpoint.webhookEndpoint.filter).toEqual({ subjectTypes: ['CATALOG_ENTRY'], workspaceId: null });
    const second = await createEndpoint(org.token, { url: byWorkspace.url, filter: { workspaceId: workspace } });
    expect(second.webhookEndpoint.filter).toEqual({ subjectTypes: null, workspaceId: workspace });
    const entry = ok(
      await app.request<any>('mutation { createCatalogEntry(input: { modelName: "m1", config: { bedrock: { modelId: "m" } } }) { catalogEntry { id } } }', {}, { token: org.token }),
    ).createCatalogEntry.catalogEntry.id;
    ok(await app.request<any>('mutation($e: ID!, $w: ID) { enableModel(input: { catalogEntryId: $e, workspaceId: $w }) { modelAccess { id } } }', { e: entry, w: workspace }, { token: org.token }));
    await createWorkspace(org.token, 'unwatched');
    await byType.waitFor(1);
    await byWorkspace.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(byType.received.map((request) => JSON.parse(request.body).type)).toEqual(['catalog_entry.created']);
    expect(byWorkspace.received.map((request) => JSON.parse(request.body))).toEqual([
      expect.objectContaining({ type: 'model_access.created', data: expect.objectContaining({ workspaceId: workspace, subjectType: 'MODEL_ACCESS' }) }),
    ]);
    // A workspace of another organization, or an empty list of types, is refused.
    const other = await app.organization('Elsewhere');
    const foreignWorkspace = await createWorkspace(other.token, 'theirs');
    expect(codes(await app.request<any>(CREATE, { input: { url: byType.url, filter: { workspaceId: foreignWorkspace } } }, { token: org.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await app.request<any>(CREATE, { input: { url: byType.url, filter: { subjectTypes: [] } } }, { token: org.token }))).toEqual(['BAD_USER_INPUT']);
  });

  it('sign with the old and the new secret during a rotation, then with the new one only', async () => {
    const org = await app.organization('Rotating');
    const hook = await receiver();
    const { secret: old, webhookEndpoint } = await createEndpoint(org.token, { url: hook.url });
    const rotated = ok(
      await app.request<any>('mutation($id: ID!) { rotateWebhookSecret(input: { id: $id }) { secret } }', { id: webhookEndpoint.id }, { token: org.token }),
    ).rotateWebhookSecret.secret as string;
    await createWorkspace(org.token, 'during');
    const [during] = await hook.waitFor(1);
    const signatures = String(during!.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((signature) => signature.startsWith('v1,'))).toBe(true);
    for (const secret of [old, rotated]) expect(() => new Webhook(secret).verify(during!.body, during!.headers as Record<string, string>)).not.toThrow();

    // Past the overlap (its start moved back), only the new secret signs.
    await app.services.database.query(`UPDATE webhook_endpoint SET secret_rotated_at = now() - interval '2 hours' WHERE id = $1`, [webhookEndpoint.databaseId]);
    await createWorkspace(org.token, 'after');
    const [, after] = await hook.waitFor(2);
    expect(String(after!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => new Webhook(rotated).verify(after!.body, after!.headers as Record<string, string>)).not.toThrow();
    expect(() => new Webhook(old).verify(after!.body, after!.headers as Record<string, string>)).toThrow();
  });

  it('replay the events after a cursor with their original webhook-ids, and refuse a cursor past the retention', async () => {
    const org = await app.organization('Replayed');
    const hook = await receiver();
    const { webhookEndpoint } = await createEndpoint(org.token, { url: hook.url });
    const start = await head(org.token);
    await createWorkspace(org.token, 'r1');
    await createWorkspace(org.token, 'r2');
    const original = await hook.waitFor(2);
    const disabled = ok(
      await app.request<any>('mutation($id: ID!) { updateWebhookEndpoint(input: { id: $id, enabled: false }) { webhookEndpoint { enabled disabledReason } } }', { id: webhookEndpoint.id }, { token: org.token }),
    );
    expect(disabled.updateWebhookEndpoint.webhookEndpoint).toEqual({ enabled: false, disabledReason: 'MANUAL' });
    await createWorkspace(org.token, 'while disabled');
    ok(await app.request<any>('mutation($id: ID!) { updateWebhookEndpoint(input: { id: $id, enabled: true }) { webhookEndpoint { enabled } } }', { id: webhookEndpoint.id }, { token: org.token }));
    const replayed = ok(
      await app.request<any>('mutation($input: ReplayWebhookEventsInput!) { replayWebhookEvents(input: $input) { queuedCount } }', { input: { id: webhookEndpoint.id, after: start } }, { token: org.token }),
    );
    expect(replayed.replayWebhookEvents.queuedCount).toBe(3);
    const all = await hook.waitFor(5);
    expect(all.slice(2).map((request) => request.headers['webhook-id']).slice(0, 2)).toEqual(original.map((request) => request.headers['webhook-id']));
    const events = await feed(org.token, start);
    expect(all.slice(2).map((request) => JSON.parse(request.body).data.cursor)).toEqual(events.map((event) => event.cursor));

    const expired = encodeCursor({ xid: 1n, id: 1n, time: Date.now() - 200 * 3_600_000 });
    const refused = await app.request<any>('mutation($id: ID!, $after: String!) { replayWebhookEvents(input: { id: $id, after: $after }) { queuedCount } }', { id: webhookEndpoint.id, after: expired }, { token: org.token });
    expect(codes(refused)).toEqual(['CURSOR_EXPIRED']);
    const malformed = await app.request<any>('mutation($id: ID!) { replayWebhookEvents(input: { id: $id, after: "nope" }) { queuedCount } }', { id: webhookEndpoint.id }, { token: org.token });
    expect(codes(malformed)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuse URLs that break the rules at save, and addresses the outbound rules refuse at connect, without connecting', async () => {
    const org = await app.organization('Rules');
    const refusedUrls = [
      'ftp://hooks.example.com/x',
      'https://user:pass@hooks.example.com/x',
      'https://hooks.example.com/x#frag',
      `https://hooks.example.com/${'a'.repeat(2048)}`,
      'https://169.254.169.254/latest',
      'http://[fd00:ec2::254]/x',
      'http://[::ffff:169.254.169.254]/x',
      'http://100.100.100.200/latest/meta-data',
      'http://metadata.google.internal/computeMetadata/v1',
      'https://METADATA.azure.com./metadata',
      'not a url',
    ];
    for (const url of refusedUrls) {
      const response = await app.request<any>(CREATE, { input: { url } }, { token: org.token });
      expect(codes(response), url).toEqual(['BAD_USER_INPUT']);
      expect(response.errors![0]!.extensions!.argument).toBe('input.url');
    }
    // https only in production, unless WEBHOOK_ALLOW_HTTP.
    expect(() => validateWebhookUrl('http://hooks.example.com/x', 'url', { NODE_ENV: 'production', WEBHOOK_ALLOW_HTTP: false })).toThrow(/https/);
    expect(validateWebhookUrl('http://hooks.example.com/x', 'url', { NODE_ENV: 'production', WEBHOOK_ALLOW_HTTP: true })).toBe('http://hooks.example.com/x');
    expect(validateWebhookUrl('https://hooks.example.com/x', 'url', { NODE_ENV: 'production', WEBHOOK_ALLOW_HTTP: false })).toBe('https://hooks.example.com/x');

    // At connect: a name that resolves to a metadata address is refused before any socket
    // exists; one that resolves to the loopback receiver is delivered to.
    const hook = await receiver();
    const connections: string[] = [];
    const dispatcher = app.services.webhooks;
    dispatcher.outbound = {
      resolve: async (hostname) =>
        hostname === 'metadata.hooks.test'
          ? [{ address: '127.0.0.1', family: 4 }, { address: '168.63.129.16', family: 4 }]
          : [{ address: '127.0.0.1', family: 4 }],
      openSocket: (target, lookup, callback) => {
        connections.push(target.hostname);
        import('undici').then(({ buildConnector }) => buildConnector({ timeout: 2_000, lookup } as never)(target, callback));
      },
    };
    try {
      await createEndpoint(org.token, { url: 'http://metadata.hooks.test/x' });
      await createEndpoint(org.token, { url: `http://receiver.hooks.test:${hook.port}/hook` });
      await createWorkspace(org.token, 'probe');
      await hook.waitFor(1);
      const endpoints = await deliveriesOnceRecorded(org.token, (list) => list.every((e) => e.deliveries.edges[0]?.node.attempts >= 1));
      const byUrl = new Map(endpoints.map((endpoint) => [endpoint.deliveries.edges[0].node.lastError === null ? 'ok' : 'refused', endpoint]));
      expect(byUrl.get('refused')!.deliveries.edges[0].node.lastError).toMatch(/refused/);
      expect(connections).toEqual(['receiver.hooks.test']);
    } finally {
      dispatcher.outbound = {};
    }
  });

  it('are measured: attempts by outcome with their durations, pending deliveries and the age of the oldest, without secrets', async () => {
    const org = await app.organization('Measured');
    let answer = 200;
    const hook = await receiver(() => ({ status: answer }));
    const { secret } = await createEndpoint(org.token, { url: hook.url });
    await createWorkspace(org.token, 'counted');
    await hook.waitFor(1);
    await deliveriesOnceRecorded(org.token, ([e]) => e.deliveries.edges[0]?.node.status === 'SUCCEEDED');
    // A delivery left pending (its retry due later): counted with its age.
    answer = 500;
    await app.services.database.query(`UPDATE webhook_endpoint SET url = $1 WHERE organization_id = $2`, [hook.url.replace('/hook', '/later'), org.id]);
    await createWorkspace(org.token, 'pending');
    await hook.waitFor(2);
    await deliveriesOnceRecorded(org.token, ([e]) => e.deliveries.edges[0]?.node.attempts === 1 && e.deliveries.edges[0]?.node.status === 'PENDING');
    const text = await (await app.app.fetch('http://test.local/metrics')).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    expect(value(/^mcp_webhook_deliveries_total\{outcome="succeeded"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^mcp_webhook_deliveries_total\{outcome="retrying"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^mcp_webhook_attempt_duration_seconds_count\{outcome="succeeded"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^mcp_webhook_deliveries_pending (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^mcp_webhook_oldest_pending_age_seconds ([\d.e+-]+)/m)).toBeGreaterThan(0);
    expect(text).not.toContain(secret.slice(6, 20));
    expect(text).not.toContain(org.id);
  });

  it('leave a batch whose secret cannot be opened to its lease: no attempt, and no retry before the lease ends', async () => {
    const org = await app.organization('Unreadable');
    const hook = await receiver();
    const { webhookEndpoint } = await createEndpoint(org.token, { url: hook.url });
    // Sealed with a key this service does not have (as after dropping a previous key too early).
    const foreign = sealSecrets(new SecretBox(Buffer.alloc(32, 7).toString('base64')), 'whsec_AAAA');
    await app.services.database.query('UPDATE webhook_endpoint SET encrypted_secret = $1 WHERE id = $2', [foreign, webhookEndpoint.databaseId]);
    const warnings = () => app.logs.filter((line) => line.includes(webhookEndpoint.databaseId) && line.includes('retrying when the lease ends')).length;
    await createWorkspace(org.token, 'unsigned');
    await expect.poll(warnings, { timeout: 5_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(warnings()).toBe(1);
    expect(hook.received).toHaveLength(0);
    const [endpoint] = await deliveriesOnceRecorded(org.token, () => true);
    expect(endpoint.deliveries.edges[0].node).toMatchObject({ status: 'PENDING', attempts: 0 });
  });

  it("deliver platform events to every organization's endpoints, but not to one filtered to a workspace", async () => {
    const [first, second] = [await app.organization('Platform A'), await app.organization('Platform B')];
    const [a, b, filtered] = [await receiver(), await receiver(), await receiver()];
    const workspace = await createWorkspace(second.token, 'only');
    await createEndpoint(first.token, { url: a.url });
    await createEndpoint(second.token, { url: b.url, filter: { subjectTypes: ['CATALOG_ENTRY'] } });
    await createEndpoint(second.token, { url: filtered.url, filter: { workspaceId: workspace } });
    const admin = await app.token({ scopes: ['platform:admin'] });
    ok(
      await app.request<any>(
        'mutation($entries: [PlatformCatalogEntryInput!]!) { upsertPlatformCatalog(input: { entries: $entries }) { insertedCount } }',
        { entries: [{ modelProvider: 'openai', modelName: 'gpt-webhooked' }] },
        { token: admin },
      ),
    );
    const [fromB] = await b.waitFor(1);
    const [fromA] = await a.waitFor(1);
    const event = JSON.parse(fromB!.body);
    expect(event).toMatchObject({ type: 'catalog_entry.created', data: { subjectType: 'CATALOG_ENTRY', workspaceId: null, action: 'CREATED' } });
    expect(Buffer.from(event.data.subjectId, 'base64url').toString()).toMatch(/^CatalogEntry:/);
    expect(JSON.parse(fromA!.body).data).toEqual(event.data);
    // The same event, two endpoints: two webhook-ids.
    expect(fromA!.headers['webhook-id']).not.toBe(fromB!.headers['webhook-id']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(filtered.received).toHaveLength(0);
  });

  it('queue an event exactly when it commits while the endpoint exists: a create waits for the writes in flight, later writes wait for it', async () => {
    const org = await app.organization('Racing');
    const hook = await receiver();
    // A write in flight: its event is recorded, its transaction not committed yet.
    const release = Promise.withResolvers<void>();
    const recorded = Promise.withResolvers<void>();
    const writing = scopedTransaction(app.services.database.prisma, { kind: 'tenant', organizationId: org.id }, async (tx) => {
      await tx.workspace.create({ data: { organizationId: org.id, name: 'in flight' } });
      recorded.resolve();
      await release.promise;
    });
    await recorded.promise;
    let created = false;
    const creating = createEndpoint(org.token, { url: hook.url }).then((answer) => ((created = true), answer));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // PGlite runs one transaction at a time; on PostgreSQL the create waits for the lock.
    if (app.services.database.kind === 'postgres') expect(created).toBe(false);
    release.resolve();
    await writing;
    await creating;
    await createWorkspace(org.token, 'after');
    const [first] = await hook.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The write that committed before the endpoint existed was not queued for it.
    expect(hook.received).toHaveLength(1);
    expect(JSON.parse(first!.body).type).toBe('workspace.created');
    const [endpoint] = await deliveriesOnceRecorded(org.token, () => true);
    expect(endpoint.deliveries.edges).toHaveLength(1);
  });

  it.skipIf(!process.env.DATABASE_URL)('refuse an endpoint change with CONFLICT, never a deadlock, while writes never pause', async () => {
    const org = await app.organization('Busy');
    const release = Promise.withResolvers<void>();
    const recorded = Promise.withResolvers<void>();
    const writing = scopedTransaction(app.services.database.prisma, { kind: 'tenant', organizationId: org.id }, async (tx) => {
      await tx.workspace.create({ data: { organizationId: org.id, name: 'long write' } });
      recorded.resolve();
      await release.promise;
    });
    await recorded.promise;
    try {
      const started = Date.now();
      const refused = await app.request<any>(CREATE, { input: { url: 'http://127.0.0.1:9/busy' } }, { token: org.token });
      expect(codes(refused)).toEqual(['CONFLICT']);
      expect(Date.now() - started).toBeGreaterThan(2_000);
      // Other writers were never held back meanwhile.
      expect(await createWorkspace(org.token, 'meanwhile')).toBeTruthy();
    } finally {
      release.resolve();
      await writing;
    }
    expect(ok(await app.request<any>('{ webhookEndpoints { totalCount } }', {}, { token: org.token })).webhookEndpoints.totalCount).toBe(0);
  }, 20_000);
});
