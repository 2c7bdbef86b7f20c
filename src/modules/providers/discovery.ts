import net from 'node:net';
import { Agent, request } from 'undici';
import type { Header } from './secrets.ts';
import { checkAddress, guardedConnector, guardedLookup, OutboundRefused, type Resolve } from './outbound-guard.ts';

export const MAX_BODY_BYTES = 5 * 1024 * 1024;
const MAX_NAME_LENGTH = 500;

export interface DiscoveryTarget {
  baseUrl: string;
  apiKeyHeader: string | null;
  apiKey?: string;
  customHeaders?: Header[];
}

export interface DiscoveredModel {
  name: string;
  metadata: Record<string, unknown>;
}

/** Why a discovery request failed, in a few words fit for a metric label. */
export type DiscoveryFailure = 'refused' | 'timeout' | 'unreachable' | 'redirect' | 'too_large' | 'http_error' | 'invalid_answer';

export type DiscoveryResult =
  | { ok: true; httpStatus: number; models: DiscoveredModel[] }
  | { ok: false; httpStatus: number | null; reason: DiscoveryFailure; error: string };

/** Custom headers first, then the key: `Authorization: Bearer <key>` or `<apiKeyHeader>: <key>` raw. */
export function discoveryHeaders(target: DiscoveryTarget): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const header of target.customHeaders ?? []) headers[header.name] = header.value;
  if (target.apiKey) {
    if (target.apiKeyHeader) headers[target.apiKeyHeader] = target.apiKey;
    else headers.authorization = `Bearer ${target.apiKey}`;
  }
  return headers;
}

/** Model names from an OpenAI-style list: `{data: [...]}` or a bare array; invalid items skipped, duplicates collapse (first wins). */
export function parseModelList(body: unknown): DiscoveredModel[] | null {
  const list = Array.isArray(body) ? body : body && typeof body === 'object' && Array.isArray((body as { data?: unknown }).data) ? (body as { data: unknown[] }).data : null;
  if (!list) return null;
  const models = new Map<string, DiscoveredModel>();
  for (const item of list) {
    if (!item || typeof item !== 'object' || Array.isArray(item)) continue;
    const record = item as Record<string, unknown>;
    const name = typeof record.id === 'string' ? record.id : typeof record.model_name === 'string' ? record.model_name : null;
    if (!name || name.trim() === '' || name.length > MAX_NAME_LENGTH || models.has(name)) continue;
    models.set(name, { name, metadata: record });
  }
  return [...models.values()];
}

/**
 * GET {baseUrl}/models with the provider's headers: no redirects, a timeout, a body
 * cap, and the outbound guard applied to a literal address before connecting, to every
 * address DNS returns, and to the address connected to. Never throws; failures come
 * back as readable errors without secrets.
 */
export async function discoverModels(
  target: DiscoveryTarget,
  options: { timeoutMs: number; denyPrivateNetworks: boolean; resolve?: Resolve },
): Promise<DiscoveryResult> {
  const url = `${target.baseUrl.replace(/\/+$/, '')}/models`;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const dispatcher = new Agent({
    connect: guardedConnector({
      denyPrivate: options.denyPrivateNetworks,
      timeoutMs: options.timeoutMs,
      lookup: guardedLookup(options.denyPrivateNetworks, options.resolve),
    }),
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  const abort = AbortSignal.timeout(options.timeoutMs);
  try {
    if (net.isIP(host)) checkAddress(host, options.denyPrivateNetworks);
    const response = await request(url, {
      method: 'GET',
      headers: discoveryHeaders(target),
      dispatcher,
      signal: abort,
      maxRedirections: 0,
    } as Parameters<typeof request>[1]);
    const status = response.statusCode;
    if (status >= 300 && status < 400) {
      await response.body.dump();
      return { ok: false, httpStatus: status, reason: 'redirect', error: `provider answered a redirect (HTTP ${status}); redirects are not followed` };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        response.body.destroy();
        return { ok: false, httpStatus: status, reason: 'too_large', error: `provider answer exceeds ${MAX_BODY_BYTES} bytes` };
      }
      chunks.push(chunk as Buffer);
    }
    if (status < 200 || status >= 300) return { ok: false, httpStatus: status, reason: 'http_error', error: `provider answered HTTP ${status}` };
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return { ok: false, httpStatus: status, reason: 'invalid_answer', error: 'provider answer is not valid JSON' };
    }
    const models = parseModelList(body);
    if (!models) return { ok: false, httpStatus: status, reason: 'invalid_answer', error: 'provider answer is not a model list ({"data": [...]} or an array)' };
    return { ok: true, httpStatus: status, models };
  } catch (error) {
    return { ok: false, httpStatus: null, ...describeFailure(error, options.timeoutMs) };
  } finally {
    void dispatcher.close();
  }
}

function describeFailure(error: unknown, timeoutMs: number): { reason: DiscoveryFailure; error: string } {
  for (let current = error as { name?: string; code?: string; message?: string; cause?: unknown } | undefined, i = 0; current && i < 5; i++) {
    if (current instanceof OutboundRefused) return { reason: 'refused', error: `refused to connect: ${current.message}` };
    if (current.name === 'TimeoutError' || current.name === 'AbortError' || /Timeout/.test(current.code ?? '')) {
      return { reason: 'timeout', error: `provider did not answer within ${timeoutMs} ms` };
    }
    if (current.code === 'ECONNREFUSED') return { reason: 'unreachable', error: 'connection refused by the provider' };
    if (current.code === 'ENOTFOUND' || current.code === 'EAI_AGAIN') return { reason: 'unreachable', error: 'provider host name could not be resolved' };
    current = current.cause as typeof current;
  }
  return { reason: 'unreachable', error: 'could not reach the provider' };
}
