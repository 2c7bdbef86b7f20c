import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { Agent, request } from 'undici';
import { badInput } from '../graphql/errors.ts';
import { checkAddress, checkHostName, guardedConnector, OutboundRefused, type OpenSocket, type Resolve } from './outbound-guard.ts';

export interface OutboundRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** The body is read up to this many bytes; the rest is dropped and `truncated` set. */
  maxResponseBytes: number;
  /** DISCOVERY_DENY_PRIVATE_NETWORKS: also refuse private and loopback addresses. */
  denyPrivateNetworks: boolean;
  resolve?: Resolve;
  openSocket?: OpenSocket;
}

/** Why no answer came, in a word fit for a metric label. */
export type OutboundFailure = 'refused' | 'timeout' | 'unreachable';

export type OutboundResult =
  | { ok: true; status: number; headers: IncomingHttpHeaders; body: Buffer; truncated: boolean }
  | { ok: false; reason: OutboundFailure; error: string };

/**
 * One HTTP request to a URL a tenant gave: no redirects (a 3xx comes back as its status),
 * a timeout over the whole exchange, a capped body, and the outbound guard applied to a
 * literal address before connecting, to every address DNS returns, and to the address
 * connected to. Never throws; a failure comes back as a readable error without the
 * request's headers or body. Sent with undici's `request`, so the undici
 * instrumentation traces it and adds `traceparent`.
 */
export async function guardedRequest(url: string, options: OutboundRequest): Promise<OutboundResult> {
  const dispatcher = new Agent({
    connect: guardedConnector({
      denyPrivate: options.denyPrivateNetworks,
      timeoutMs: options.timeoutMs,
      resolve: options.resolve,
      openSocket: options.openSocket,
    }),
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host)) checkAddress(host, options.denyPrivateNetworks);
    else checkHostName(host);
    const response = await request(url, {
      method: options.method,
      headers: options.headers,
      body: options.body,
      dispatcher,
      signal: AbortSignal.timeout(options.timeoutMs),
      maxRedirections: 0,
    } as Parameters<typeof request>[1]);
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    for await (const chunk of response.body) {
      const bytes = chunk as Buffer;
      if (size + bytes.length > options.maxResponseBytes) {
        chunks.push(bytes.subarray(0, options.maxResponseBytes - size));
        truncated = true;
        response.body.destroy();
        break;
      }
      size += bytes.length;
      chunks.push(bytes);
    }
    return { ok: true, status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks), truncated };
  } catch (error) {
    return { ok: false, ...describeFailure(error, options.timeoutMs) };
  } finally {
    void dispatcher.close();
  }
}

function describeFailure(error: unknown, timeoutMs: number): { reason: OutboundFailure; error: string } {
  for (let current = error as { name?: string; code?: string; message?: string; cause?: unknown } | undefined, i = 0; current && i < 5; i++) {
    if (current instanceof OutboundRefused) return { reason: 'refused', error: `refused to connect: ${current.message}` };
    if (current.name === 'TimeoutError' || current.name === 'AbortError' || /Timeout/.test(current.code ?? '')) {
      return { reason: 'timeout', error: `did not answer within ${timeoutMs} ms` };
    }
    if (current.code === 'ECONNREFUSED') return { reason: 'unreachable', error: 'connection refused' };
    if (current.code === 'ENOTFOUND' || current.code === 'EAI_AGAIN') return { reason: 'unreachable', error: 'host name could not be resolved' };
    current = current.cause as typeof current;
  }
  return { reason: 'unreachable', error: 'could not connect' };
}

/** Why a URL's host is refused whatever DISCOVERY_DENY_PRIVATE_NETWORKS says (a metadata address or name), or null. */
export function outboundUrlRefusal(url: URL): string | null {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  try {
    if (net.isIP(host)) checkAddress(host, false);
    else checkHostName(host);
    return null;
  } catch (refused) {
    if (refused instanceof OutboundRefused) return refused.message;
    throw refused;
  }
}

/**
 * The check at save time of a URL that will be connected to later: a literal address
 * or a host name the guard refuses whatever DISCOVERY_DENY_PRIVATE_NETWORKS says
 * (cloud metadata services) is `BAD_USER_INPUT` naming `argument`. Other names are
 * judged when connecting, after DNS.
 */
export function assertOutboundUrl(url: URL, argument: string): void {
  const refused = outboundUrlRefusal(url);
  if (refused) throw badInput(argument, `is refused: ${refused}`);
}
