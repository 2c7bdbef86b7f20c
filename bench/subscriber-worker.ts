/**
 * A process of E1's subscriber clients (forked by bench/subscriptions.ts): opens one SSE
 * subscription per token it is sent, records when each event arrives (receipt − the
 * event's occurredAt, one clock), and reports. The clients run here so that their work
 * neither slows nor is counted in the process that measures, nor in the service.
 *
 * Messages from the parent: `open` {url, query, tokens, concurrency}, `collect`
 * {expected, waitMs}. To the parent: `opened` {count}, `failed` {message},
 * `collected` {lags, missing, repeated}: an event whose cursor a subscriber had already
 * received counts as repeated, not as delivered (each must arrive exactly once).
 */
import http from 'node:http';

type Open = { type: 'open'; url: string; query: string; tokens: string[]; concurrency: number };
type Collect = { type: 'collect'; expected: number; waitMs: number };

interface Subscriber {
  lags: number[];
  cursors: Set<string>;
  repeated: number;
  request: http.ClientRequest;
}

const subscribers: Subscriber[] = [];
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function send(message: unknown): void {
  process.send!(message);
}

/** Opens one subscription; resolves once the server has established it (its first bytes). */
function subscribe(url: URL, query: string, token: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query });
    const request = http.request(url, {
      method: 'POST',
      agent,
      headers: {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        authorization: `Bearer ${token}`,
      },
    });
    const subscriber: Subscriber = { lags: [], cursors: new Set(), repeated: 0, request };
    request.on('error', reject);
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => reject(new Error(`subscription refused: HTTP ${response.statusCode} ${text.slice(0, 300)}`)));
        return;
      }
      response.setEncoding('utf8');
      let buffer = '';
      let established = false;
      response.on('data', (chunk: string) => {
        const now = Date.now();
        if (!established) {
          established = true;
          resolve(subscriber);
        }
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!message.startsWith('event: next')) continue;
          const data = message.indexOf('\ndata: ');
          if (data < 0) continue;
          const event = (JSON.parse(message.slice(data + 7)) as { data?: { changes?: { cursor: string; occurredAt: string } } }).data?.changes;
          if (!event) continue;
          if (subscriber.cursors.has(event.cursor)) {
            subscriber.repeated++;
            continue;
          }
          subscriber.cursors.add(event.cursor);
          subscriber.lags.push(now - Date.parse(event.occurredAt));
        }
      });
      response.on('error', () => {});
    });
    request.end(body);
  });
}

async function open(message: Open): Promise<void> {
  const url = new URL(message.url);
  let next = 0;
  const lane = async () => {
    while (next < message.tokens.length) {
      const token = message.tokens[next++]!;
      subscribers.push(await subscribe(url, message.query, token));
    }
  };
  await Promise.all(Array.from({ length: Math.min(message.concurrency, message.tokens.length) }, lane));
}

async function collect(message: Collect): Promise<void> {
  const deadline = Date.now() + message.waitMs;
  while (subscribers.some((s) => s.lags.length < message.expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const lags = subscribers.flatMap((s) => s.lags);
  const missing = subscribers.reduce((sum, s) => sum + Math.max(0, message.expected - s.lags.length), 0);
  for (const subscriber of subscribers) subscriber.request.destroy();
  const repeated = subscribers.reduce((sum, s) => sum + s.repeated, 0);
  send({ type: 'collected', lags, missing, repeated });
}

process.on('message', (message: Open | Collect) => {
  const run = message.type === 'open' ? open(message).then(() => send({ type: 'opened', count: subscribers.length })) : collect(message);
  run.catch((error: unknown) => send({ type: 'failed', message: (error as Error).message }));
});
process.on('disconnect', () => process.exit(0));
