/**
 * Scenario E1: subscribers of one organization over SSE while a writer commits changes
 * there. Measures how long after its change each event reaches every subscriber
 * (receive time − the event's occurredAt, one clock) and the SQL statements per
 * committed change, all statements of the window included (the writer's own too), so
 * that the figures for different subscriber counts compare directly.
 */
import { summarize } from './load.ts';
import type { CountingProxy } from './pg-counting-proxy.ts';

export interface SubscriptionResult {
  subscribers: number;
  changes: number;
  deliveries: number;
  missing: number;
  deliveryP50Ms: number;
  deliveryP99Ms: number;
  deliveryMaxMs: number;
  statementsPerChange: number;
}

interface Subscriber {
  received: { cursor: string; lagMs: number }[];
  close(): void;
}

/** Opens one SSE subscription and resolves once the server has established it (its first ping). */
async function subscribe(url: string, token: string): Promise<Subscriber> {
  const abort = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'subscription { changes { cursor occurredAt subjectType subject { id } } }' }),
    signal: abort.signal,
  });
  if (response.status !== 200 || !response.body) throw new Error(`subscription refused: HTTP ${response.status} ${await response.text()}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  if (first.done) throw new Error('subscription stream ended at once');
  const received: Subscriber['received'] = [];
  let buffer = first.value;
  void (async () => {
    try {
      for (;;) {
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = message.split('\n').find((line) => line.startsWith('data: '));
          if (!message.startsWith('event: next') || !data) continue;
          const event = (JSON.parse(data.slice(6)) as { data?: { changes?: { cursor: string; occurredAt: string } } }).data?.changes;
          if (event) received.push({ cursor: event.cursor, lagMs: Date.now() - Date.parse(event.occurredAt) });
        }
        const chunk = await reader.read();
        if (chunk.done) return;
        buffer += chunk.value;
      }
    } catch {
      // aborted
    }
  })();
  return { received, close: () => abort.abort() };
}

async function post(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (!body.data || body.errors) throw new Error(`write failed: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

export async function measureSubscriptions(options: {
  url: string;
  writerToken: string;
  /** A token per subscriber (distinct subjects: the per-actor limit applies per subject). */
  subscriberToken: (index: number) => Promise<string>;
  proxy: CountingProxy;
  subscribers: number;
  /** Changes committed during the window (each createWorkspace or deleteWorkspace is one). */
  changes: number;
  intervalMs: number;
}): Promise<SubscriptionResult> {
  const subscribers: Subscriber[] = [];
  try {
    for (let i = 0; i < options.subscribers; i++) subscribers.push(await subscribe(options.url, await options.subscriberToken(i)));
    await options.proxy.settle();
    const before = options.proxy.snapshot();
    let workspace: string | null = null;
    for (let i = 0; i < options.changes; i++) {
      if (workspace === null) {
        workspace = (await post(options.url, options.writerToken, 'mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: `e1-${i}` }))
          .createWorkspace.workspace.id;
      } else {
        await post(options.url, options.writerToken, 'mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }', { id: workspace });
        workspace = null;
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
    // Every subscriber has the last change, or two seconds have passed.
    const deadline = Date.now() + 2_000;
    while (subscribers.some((s) => s.received.length < options.changes) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await options.proxy.settle();
    const statements = options.proxy.snapshot().statements - before.statements;
    const lags = new Float64Array(subscribers.flatMap((s) => s.received.map((r) => r.lagMs)));
    const latency = summarize(lags);
    return {
      subscribers: options.subscribers,
      changes: options.changes,
      deliveries: lags.length,
      missing: options.subscribers * options.changes - lags.length,
      deliveryP50Ms: latency.p50,
      deliveryP99Ms: latency.p99,
      deliveryMaxMs: latency.max,
      statementsPerChange: statements / options.changes,
    };
  } finally {
    for (const subscriber of subscribers) subscriber.close();
  }
}
