import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as OTLP/HTTP JSON carries it, with its attributes flattened and the scope that made it. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 1 internal, 2 server, 3 client. */
  kind: number;
  scope: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
}

export interface ExportRequest {
  path: string;
  contentType: string;
  body: Buffer;
}

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

const flatten = (attributes: OtlpAttribute[] = []) =>
  Object.fromEntries(attributes.map(({ key, value }) => [key, Object.values(value)[0]]));

/** An OTLP/HTTP collector on loopback: keeps every export request as received, and the spans of JSON ones. */
export async function otlpReceiver() {
  const requests: ExportRequest[] = [];
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? '';
      requests.push({ path: req.url ?? '', contentType, body });
      if (contentType.startsWith('application/json') && req.url === '/v1/traces') {
        const data = JSON.parse(body.toString('utf8')) as {
          resourceSpans: { scopeSpans: { scope: { name: string }; spans: (Omit<ReceivedSpan, 'scope' | 'attributes' | 'events'> & { attributes?: OtlpAttribute[]; events?: { name: string; attributes?: OtlpAttribute[] }[] })[] }[] }[];
        };
        for (const resource of data.resourceSpans) {
          for (const { scope, spans: scoped } of resource.scopeSpans) {
            for (const span of scoped) {
              spans.push({
                ...span,
                scope: scope.name,
                attributes: flatten(span.attributes),
                events: (span.events ?? []).map((event) => ({ name: event.name, attributes: flatten(event.attributes) })),
              });
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': contentType.startsWith('application/json') ? 'application/json' : 'application/x-protobuf' });
      res.end(contentType.startsWith('application/json') ? '{}' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    spans,
    /** The spans of one trace, once `until` holds for them (they arrive in batches). */
    async trace(traceId: string, until: (spans: ReceivedSpan[]) => boolean, timeoutMs = 10_000): Promise<ReceivedSpan[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = spans.filter((span) => span.traceId === traceId);
        if (until(found)) return found;
        if (Date.now() > deadline) throw new Error(`trace ${traceId} incomplete: ${JSON.stringify(found.map((span) => span.name))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A W3C `traceparent` for a new trace, as a caller upstream of the service would send it. */
export function newTraceparent(): { traceId: string; parentId: string; header: string } {
  const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
  const traceId = hex(16);
  const parentId = hex(8);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
}
