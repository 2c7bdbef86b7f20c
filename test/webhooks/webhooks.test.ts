import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { codes, ok, startTestApp, type TestApp } from '../support/harness.ts';
import { encodeCursor } from '../../src/modules/changes/position.ts';
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
});

export { encodeCursor };
