/**
 * Scenario W1: webhooks. Endpoints on loopback receivers that answer in 5 ms, while a
 * writer commits changes (createWorkspace and deleteWorkspace in turn, one after
 * another). Measures delivered events per second, the time from each change to its
 * receipt (receipt − the event's occurredAt, one clock), and what each delivery costs
 * the service: SQL statements and CPU, with the writer's own share (measured first,
 * with no endpoint) taken out. Every delivery is verified with the standardwebhooks
 * library; one missing (per endpoint and webhook-id) counts as lost.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { summarize } from './load.ts';
import type { CountingProxy } from './pg-counting-proxy.ts';

export interface WebhookResult {
  endpoints: number;
  changes: number;
  deliveries: number;
  lost: number;
  /** Deliveries that failed verification. */
  unverified: number;
  deliveredPerSecond: number;
  writerChangesPerSecond: number;
  /** The writer's pace alone, with no endpoint. */
  writerAloneChangesPerSecond: number;
  receiptP50Ms: number;
  receiptP99Ms: number;
  receiptMaxMs: number;
  /** All statements of the window per delivery, the writer's included. */
  statementsPerDeliveryAll: number;
  /** The same without the writer's statements per change (measured with no endpoint). */
  statementsPerDelivery: number;
  cpuMsPerDeliveryAll: number;
  cpuMsPerDelivery: number;
}

interface Receiver {
  url: string;
  received: Map<string, number>;
  unverified: number;
  close(): Promise<void>;
}

const ANSWER_MS = 5;

async function startReceiver(path: string, verifier: () => Webhook | undefined): Promise<Receiver> {
  const received = new Map<string, number>();
  const state = { unverified: 0 };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = Date.now();
      try {
        const body = verifier()!.verify(Buffer.concat(chunks).toString('utf8'), request.headers as Record<string, string>) as { data: { occurredAt: string } };
        const id = String(request.headers['webhook-id']);
        if (!received.has(id)) received.set(id, at - Date.parse(body.data.occurredAt));
      } catch {
        state.unverified++;
      }
      setTimeout(() => response.end(), ANSWER_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    received,
    get unverified() {
      return state.unverified;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function post(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (!body.data || body.errors) throw new Error(`request failed: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

/** `count` changes, one after another: a workspace created, then deleted, and so on. */
async function write(url: string, token: string, count: number, prefix: string): Promise<number> {
  const started = performance.now();
  let workspace: string | null = null;
  for (let i = 0; i < count; i++) {
    if (workspace === null) {
      workspace = (await post(url, token, 'mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: `${prefix}-${i}` }))
        .createWorkspace.workspace.id;
    } else {
      await post(url, token, 'mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }', { id: workspace });
      workspace = null;
    }
  }
  if (workspace !== null) await post(url, token, 'mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }', { id: workspace });
  return (performance.now() - started) / 1000;
}

export async function measureWebhooks(options: {
  url: string;
  token: string;
  proxy: CountingProxy;
  readCpuMs: () => number;
  endpoints: number;
  changes: number;
  /** Changes of the calibration without endpoints. */
  calibrationChanges: number;
}): Promise<WebhookResult> {
  const receivers: Receiver[] = [];
  const created: string[] = [];
  try {
    // The writer alone: its statements and CPU per change.
    await options.proxy.settle();
    let before = options.proxy.snapshot();
    let cpuBefore = options.readCpuMs();
    const aloneSeconds = await write(options.url, options.token, options.calibrationChanges, 'w1-calibration');
    await options.proxy.settle();
    const writerStatements = (options.proxy.snapshot().statements - before.statements) / options.calibrationChanges;
    const writerCpuMs = (options.readCpuMs() - cpuBefore) / options.calibrationChanges;

    const webhooks: Webhook[] = [];
    for (let i = 0; i < options.endpoints; i++) {
      const receiver = await startReceiver(`/w1/${i}`, () => webhooks[i]);
      receivers.push(receiver);
      const answer = await post(options.url, options.token, 'mutation($url: String!) { createWebhookEndpoint(input: { url: $url }) { secret webhookEndpoint { id } } }', {
        url: receiver.url,
      });
      webhooks.push(new Webhook(answer.createWebhookEndpoint.secret));
      created.push(answer.createWebhookEndpoint.webhookEndpoint.id);
    }
    await options.proxy.settle();
    before = options.proxy.snapshot();
    cpuBefore = options.readCpuMs();
    const started = performance.now();
    // Two changes per created-and-deleted workspace: `changes` events per endpoint.
    const writeSeconds = await write(options.url, options.token, options.changes, 'w1');
    const expected = options.changes * options.endpoints;
    const deadline = Date.now() + 30_000;
    const delivered = () => receivers.reduce((sum, receiver) => sum + receiver.received.size, 0);
    while (delivered() < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const seconds = (performance.now() - started) / 1000;
    await options.proxy.settle();
    const statements = options.proxy.snapshot().statements - before.statements;
    const cpuMs = options.readCpuMs() - cpuBefore;
    const deliveries = delivered();
    const receipts = summarize(new Float64Array(receivers.flatMap((receiver) => [...receiver.received.values()])));
    return {
      endpoints: options.endpoints,
      changes: options.changes,
      deliveries,
      lost: expected - deliveries,
      unverified: receivers.reduce((sum, receiver) => sum + receiver.unverified, 0),
      deliveredPerSecond: deliveries / seconds,
      writerChangesPerSecond: options.changes / writeSeconds,
      writerAloneChangesPerSecond: options.calibrationChanges / aloneSeconds,
      receiptP50Ms: receipts.p50,
      receiptP99Ms: receipts.p99,
      receiptMaxMs: receipts.max,
      statementsPerDeliveryAll: statements / deliveries,
      statementsPerDelivery: (statements - writerStatements * options.changes) / deliveries,
      cpuMsPerDeliveryAll: cpuMs / deliveries,
      cpuMsPerDelivery: (cpuMs - writerCpuMs * options.changes) / deliveries,
    };
  } finally {
    for (const id of created) {
      await post(options.url, options.token, 'mutation($id: ID!) { deleteWebhookEndpoint(input: { id: $id }) { deletedId } }', { id }).catch(() => {});
    }
    for (const receiver of receivers) await receiver.close();
  }
}
