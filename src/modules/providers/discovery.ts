import type { Header } from './secrets.ts';
import type { OpenSocket, Resolve } from '../../security/outbound-guard.ts';
import { guardedRequest, type OutboundFailure } from '../../security/outbound-http.ts';

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
export type DiscoveryFailure = OutboundFailure | 'redirect' | 'too_large' | 'http_error' | 'invalid_answer';

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
 * GET {baseUrl}/models with the provider's headers through the guarded request (no
 * redirects, a timeout, a body cap, the outbound guard). Never throws; failures come
 * back as readable errors without secrets.
 */
export async function discoverModels(
  target: DiscoveryTarget,
  options: { timeoutMs: number; denyPrivateNetworks: boolean; resolve?: Resolve; openSocket?: OpenSocket },
): Promise<DiscoveryResult> {
  const url = `${target.baseUrl.replace(/\/+$/, '')}/models`;
  const response = await guardedRequest(url, { method: 'GET', headers: discoveryHeaders(target), maxResponseBytes: MAX_BODY_BYTES, ...options });
  if (!response.ok) {
    const error = { refused: response.error, timeout: `provider ${response.error}`, unreachable: `provider unreachable: ${response.error}` }[response.reason];
    return { ok: false, httpStatus: null, reason: response.reason, error };
  }
  const status = response.status;
  if (status >= 300 && status < 400) {
    return { ok: false, httpStatus: status, reason: 'redirect', error: `provider answered a redirect (HTTP ${status}); redirects are not followed` };
  }
  if (response.truncated) return { ok: false, httpStatus: status, reason: 'too_large', error: `provider answer exceeds ${MAX_BODY_BYTES} bytes` };
  if (status < 200 || status >= 300) return { ok: false, httpStatus: status, reason: 'http_error', error: `provider answered HTTP ${status}` };
  let body: unknown;
  try {
    body = JSON.parse(response.body.toString('utf8'));
  } catch {
    return { ok: false, httpStatus: status, reason: 'invalid_answer', error: 'provider answer is not valid JSON' };
  }
  const models = parseModelList(body);
  if (!models) return { ok: false, httpStatus: status, reason: 'invalid_answer', error: 'provider answer is not a model list ({"data": [...]} or an array)' };
  return { ok: true, httpStatus: status, models };
}
