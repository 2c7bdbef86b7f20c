import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ok, type TestApp } from '../support/harness.ts';

/** What the tests read of an event. */
export interface SeenEvent {
  cursor: string;
  action: string;
  subjectType: string;
  subjectId: string | null;
  workspaceId: string | null;
  catalogEntryId: string | null;
  actorSubject: string | null;
  occurredAt: string;
  subject: { id: string } | null;
}

export const EVENT_FIELDS = 'cursor action subjectType subjectId workspaceId catalogEntryId actorSubject occurredAt subject { id }';

const PAGE = `query($first: Int, $after: String, $filter: ChangeEventFilter) {
  changeEvents(first: $first, after: $after, filter: $filter) { pageInfo { hasNextPage endCursor } edges { cursor node { ${EVENT_FIELDS} } } } }`;

/** Every event after `after` (or from the oldest retained), through the query, page by page. */
export async function readFeed(t: TestApp, token: string, after: string | null, filter?: Record<string, unknown>): Promise<SeenEvent[]> {
  const events: SeenEvent[] = [];
  let cursor = after;
  for (;;) {
    const page = ok(await t.request<any>(PAGE, { first: 100, after: cursor, filter }, { token })).changeEvents;
    for (const edge of page.edges) events.push(edge.node);
    if (!page.pageInfo.hasNextPage) return events;
    cursor = page.pageInfo.endCursor;
  }
}

export async function feedHead(t: TestApp, token: string): Promise<string> {
  return ok(await t.request<{ changeFeedHead: string }>('{ changeFeedHead }', {}, { token })).changeFeedHead;
}

/** The kinds of what happened, for comparing with expectations: "WORKSPACE CREATED". */
export const kinds = (events: SeenEvent[]) => events.map((event) => `${event.subjectType} ${event.action}`);

export interface Subscription {
  events: SeenEvent[];
  errors: unknown[];
  /** Resolves once the stream completed (or failed). */
  done: Promise<void>;
  /** Resolves once `n` events arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<SeenEvent[]>;
  close(): void;
}

function track(iterator: AsyncIterableIterator<{ data?: any; errors?: unknown[] }>, close: () => void): Subscription {
  const events: SeenEvent[] = [];
  const errors: unknown[] = [];
  let notify = () => {};
  const done = (async () => {
    try {
      for await (const result of iterator) {
        if (result.errors) errors.push(...result.errors);
        if (result.data?.changes) events.push(result.data.changes);
        notify();
      }
    } catch (error) {
      errors.push(error);
    } finally {
      notify();
    }
  })();
  let finished = false;
  void done.then(() => (finished = true));
  return {
    events,
    errors,
    done,
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < n) {
        if (finished) throw new Error(`stream ended after ${events.length} of ${n} events: ${JSON.stringify(errors)}`);
        if (Date.now() > deadline) throw new Error(`only ${events.length} of ${n} events within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          notify = resolve;
          setTimeout(resolve, 50);
        });
      }
      return events.slice(0, n);
    },
    close,
  };
}

const SUBSCRIPTION = `subscription($after: String, $filter: ChangeEventFilter) { changes(after: $after, filter: $filter) { ${EVENT_FIELDS} } }`;

export interface SubscribeOptions {
  after?: string | null;
  filter?: Record<string, unknown>;
  query?: string;
  /** Sent as they are, instead of `{ after, filter }` (for documents that name their variables otherwise). */
  variables?: Record<string, unknown>;
  /** A trusted document's id, sent instead of the text (`query: ""`, as graphql-ws requires a string). */
  documentId?: string;
}

const operation = (options: SubscribeOptions) => ({
  ...(options.documentId ? { query: '', documentId: options.documentId } : { query: options.query ?? SUBSCRIPTION }),
  variables: options.variables ?? { after: options.after ?? null, filter: options.filter ?? null },
});

/** Tracks a client's subscription; closing it ends the iteration and the client. */
function follow(iterable: AsyncIterable<unknown>, dispose: () => void): Subscription {
  const iterator = iterable as AsyncIterableIterator<{ data?: any; errors?: unknown[] }>;
  return track(iterator, () => {
    void iterator.return?.();
    dispose();
  });
}

/**
 * The app's own fetch, whose streamed body is cancelled when the request is aborted (a
 * closed socket does that over HTTP).
 */
function inProcessFetch(t: TestApp): typeof fetch {
  return (async (input: string, init?: RequestInit) => {
    const response = await t.app.fetch(input, init ?? {});
    if (!response.body) return response;
    const reader = response.body.getReader();
    init?.signal?.addEventListener('abort', () => void reader.cancel().catch(() => {}), { once: true });
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = await reader.read();
        if (chunk.done) controller.close();
        else controller.enqueue(chunk.value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(body, { status: response.status, headers: response.headers });
  }) as unknown as typeof fetch;
}

/** A subscription over GraphQL over SSE (distinct connections), in-process or to a URL. */
export function subscribeSse(target: TestApp | string, token: string, options: SubscribeOptions = {}): Subscription {
  const client = createSseClient({
    url: typeof target === 'string' ? target : 'http://test.local/graphql',
    ...(typeof target === 'string' ? {} : { fetchFn: inProcessFetch(target) }),
    headers: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  return follow(client.iterate(operation(options)), () => client.dispose());
}

/** A subscription over graphql-transport-ws; the token in connection_init's payload or the upgrade header. */
export function subscribeWs(url: string, token: string, options: SubscribeOptions & { tokenIn?: 'payload' | 'header' } = {}): Subscription {
  const tokenIn = options.tokenIn ?? 'payload';
  const client = createWsClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl:
      tokenIn === 'header'
        ? class extends WebSocket {
            constructor(address: string, protocols?: string | string[]) {
              super(address, protocols, { headers: { authorization: `Bearer ${token}` } });
            }
          }
        : WebSocket,
    connectionParams: tokenIn === 'payload' ? { authorization: `Bearer ${token}` } : undefined,
    retryAttempts: 0,
    lazy: true,
  });
  return follow(client.iterate(operation(options)), () => void client.dispose());
}

/** Waits until the subscription is open on the server (the feed counts it). */
export async function untilSubscribed(t: TestApp, count: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (t.services.changeFeed.openSubscriptions < count) {
    if (Date.now() > deadline) throw new Error(`${t.services.changeFeed.openSubscriptions} of ${count} subscriptions open`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
