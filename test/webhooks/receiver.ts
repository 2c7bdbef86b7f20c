import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string | undefined>;
  body?: string;
  delayMs?: number;
}

/**
 * A webhook receiver on 127.0.0.1: records every request and answers with what
 * `answer` says (200 by default). `inFlight` counts the requests being answered per
 * webhook-id, to catch two concurrent attempts of one delivery.
 */
export async function startReceiver(answer: (request: ReceivedRequest, index: number) => Answer = () => ({ status: 200 })) {
  const received: ReceivedRequest[] = [];
  const inFlight = new Map<string, number>();
  let concurrentRepeats = 0;
  let aborted = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry: ReceivedRequest = {
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      const id = String(request.headers['webhook-id'] ?? '');
      const open = (inFlight.get(id) ?? 0) + 1;
      if (open > 1) concurrentRepeats++;
      inFlight.set(id, open);
      const index = received.push(entry) - 1;
      const reply = answer(entry, index);
      // A sender that went away mid-attempt (killed) never reads the answer.
      response.on('close', () => {
        if (!response.writableFinished) aborted++;
      });
      setTimeout(() => {
        inFlight.set(id, (inFlight.get(id) ?? 1) - 1);
        response.writeHead(reply.status, Object.fromEntries(Object.entries(reply.headers ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined)));
        response.end(reply.body ?? '');
        for (const waiter of waiters.filter((w) => received.length >= w.count)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }, reply.delayMs ?? 0);
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    /** Requests that arrived while another with the same webhook-id was being answered. */
    get concurrentRepeats() {
      return concurrentRepeats;
    },
    /** Requests whose sender closed the connection before the answer was written. */
    get aborted() {
      return aborted;
    },
    /** Resolves once `count` requests were answered; rejects after `timeoutMs`. */
    waitFor(count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
      if (received.length >= count) return Promise.resolve(received.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${count} requests`)), timeoutMs);
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve(received.slice())) });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
