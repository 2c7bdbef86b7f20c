import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.ts';
import { mintToken } from '../../src/security/tokens.ts';
import { startReceiver, type Answer, type Receiver } from './receiver.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);
const SECRET = crypto.randomBytes(32).toString('base64');

let database: TestDatabase;
let receiver: Receiver;
let answer: () => Answer = () => ({ status: 200, delayMs: 5 });
const instances: ServiceProcess[] = [];
let env: Record<string, string>;

async function post<T = any>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (!body.data || body.errors) throw new Error(JSON.stringify(body));
  return body.data;
}

async function readCursors(url: string, token: string, after: string): Promise<string[]> {
  const cursors: string[] = [];
  let cursor = after;
  for (;;) {
    const page = (
      await post(url, token, 'query($after: String) { changeEvents(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { cursor } } } }', {
        after: cursor,
      })
    ).changeEvents;
    cursors.push(...page.edges.map((edge: { node: { cursor: string } }) => edge.node.cursor));
    if (!page.pageInfo.hasNextPage) return cursors;
    cursor = page.pageInfo.endCursor;
  }
}

/** The event cursors each path received with a verified signature (repeats collapse). */
function receivedCursors(secrets: Record<string, string>): Map<string, Set<string>> {
  const byPath = new Map<string, Set<string>>();
  for (const request of receiver.received) {
    const payload = new Webhook(secrets[request.path]!).verify(request.body, request.headers as Record<string, string>) as { data: { cursor: string } };
    if (!byPath.has(request.path)) byPath.set(request.path, new Set());
    byPath.get(request.path)!.add(payload.data.cursor);
  }
  return byPath;
}

async function until(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(what());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!onPostgres)('webhooks across service processes on one database', () => {
  let token: string;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    database = await createTestDatabase();
    receiver = await startReceiver(() => answer());
    env = {
      DATABASE_URL: database.databaseUrl!,
      NODE_ENV: 'production',
      AUTH_JWT_SECRET: SECRET,
      DB_ENCRYPTION_KEY: crypto.randomBytes(32).toString('base64'),
      RATE_LIMIT_POINTS: '0',
      SHUTDOWN_DRAIN_MS: '100',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_TIMEOUT_MS: '1000',
      WEBHOOK_LEASE_MS: '3000',
      WEBHOOK_RETRY_SCHEDULE: '200ms,500ms,1s,1s,1s,1s',
      // One endpoint at a time per instance: with two endpoints, both instances have work.
      WEBHOOK_CONCURRENCY: '1',
    };
    instances.push(await startServiceProcess(env), await startServiceProcess(env));
    const [a] = instances as [ServiceProcess];
    const admin = await mintToken(SECRET, { subject: 'admin', scopes: ['platform:admin'] });
    const org = (await post(a.url, admin, 'mutation { createOrganization(input: { name: "Hooks" }) { organization { databaseId } } }')).createOrganization
      .organization.databaseId;
    token = await mintToken(SECRET, { subject: 'writer', organizationId: org, scopes: ['*'] });
    for (const path of ['/a', '/b']) {
      const created = await post(a.url, token, 'mutation($url: String!) { createWebhookEndpoint(input: { url: $url }) { secret } }', {
        url: `http://127.0.0.1:${receiver.port}${path}`,
      });
      secrets[path] = created.createWebhookEndpoint.secret;
    }
  }, 180_000);
  afterAll(async () => {
    for (const instance of instances) await instance.stop('SIGKILL');
    await receiver?.close();
    await database?.drop();
  });

  it('two instances deliver 500 events to each endpoint: every one received, no two attempts of one delivery at once', async () => {
    const [a, b] = instances as [ServiceProcess, ServiceProcess];
    const head = (await post(a.url, token, '{ changeFeedHead }')).changeFeedHead as string;
    // 500 workspaces, written through both instances, ten at a time.
    for (let i = 0; i < 500; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          post([a, b][(i + j) % 2]!.url, token, 'mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: `w${i + j}` }),
        ),
      );
    }
    const cursors = await readCursors(a.url, token, head);
    expect(cursors).toHaveLength(500);
    await until(
      () => [...receivedCursors(secrets).values()].every((set) => set.size >= 500) && receivedCursors(secrets).size === 2,
      60_000,
      () => `received ${[...receivedCursors(secrets)].map(([path, set]) => `${path}: ${set.size}`).join(', ')}`,
    );
    const received = receivedCursors(secrets);
    for (const path of ['/a', '/b']) expect([...received.get(path)!].sort()).toEqual([...cursors].sort());
    expect(receiver.concurrentRepeats).toBe(0);
    const attempted = await Promise.all(
      instances.map(async (instance) => {
        const text = await (await fetch(instance.url.replace('/graphql', '/metrics'))).text();
        return Number(/mcp_webhook_deliveries_total\{outcome="succeeded"\} (\d+)/.exec(text)?.[1] ?? 0);
      }),
    );
    expect(attempted[0]! + attempted[1]!).toBeGreaterThanOrEqual(1000);
  }, 180_000);

  it('an instance killed while its attempts are in flight leaves them to the other once its lease ends: every event arrives', async () => {
    const [a] = instances as [ServiceProcess, ServiceProcess];
    // Slow answers: attempts are in flight most of the time.
    answer = () => ({ status: 200, delayMs: 150 });
    const before = receiver.received.length;
    const head = (await post(a.url, token, '{ changeFeedHead }')).changeFeedHead as string;
    for (let i = 0; i < 40; i++) {
      await post(a.url, token, 'mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: `k${i}` });
    }
    await until(() => receiver.received.length >= before + 6, 20_000, () => 'no attempts started');
    const abortedBefore = receiver.aborted;
    await a.stop('SIGKILL');
    const survivor = instances[1]!;
    const cursors = await readCursors(survivor.url, token, head);
    expect(cursors).toHaveLength(40);
    await until(
      () => {
        const received = receivedCursors(secrets);
        return ['/a', '/b'].every((path) => cursors.every((cursor) => received.get(path)?.has(cursor)));
      },
      60_000,
      () => 'not every event arrived after the kill',
    );
    // The killed instance had attempts in flight (their answers were never read).
    expect(receiver.aborted).toBeGreaterThan(abortedBefore);
    expect(receiver.concurrentRepeats).toBe(0);

    // SIGTERM while attempts are in flight: they finish (their answers are read) and the process exits cleanly.
    const abortedAfterKill = receiver.aborted;
    const pending = receiver.received.length;
    for (let i = 0; i < 5; i++) {
      await post(survivor.url, token, 'mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: `t${i}` });
    }
    await until(() => receiver.received.length > pending, 10_000, () => 'no attempt started before SIGTERM');
    expect(await survivor.stop('SIGTERM')).toBe(0);
    expect(receiver.aborted).toBe(abortedAfterKill);
    expect(survivor.output()).toContain('"msg":"stopped"');
  }, 120_000);
});
