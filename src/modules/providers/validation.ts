import { badInput } from '../../graphql/errors.ts';
import { httpUrl } from '../../graphql/validation.ts';
import type { Header } from './secrets.ts';

// RFC 7230 token characters.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'keep-alive', 'proxy-authorization', 'trailer']);
export const MAX_HEADERS = 32;
export const MAX_HEADER_NAME_LENGTH = 120;
export const MAX_HEADER_VALUE_LENGTH = 2048;
export const MAX_API_KEY_LENGTH = 4096;

export function validateBaseUrl(value: string, argument: string): string {
  const { text: trimmed, url } = httpUrl(value, argument, 500, '; use apiKey or customHeaders');
  // Discovery appends /models to the URL; a query or fragment would end up before it.
  if (url.search || url.hash || trimmed.includes('?') || trimmed.includes('#')) {
    throw badInput(argument, 'must not contain a query or fragment');
  }
  return trimmed;
}

export function validateHeaderName(value: string, argument: string): string {
  if (value.length < 1 || value.length > MAX_HEADER_NAME_LENGTH || !TOKEN.test(value)) {
    throw badInput(argument, `must be a valid HTTP header name of at most ${MAX_HEADER_NAME_LENGTH} characters`);
  }
  if (FORBIDDEN_HEADERS.has(value.toLowerCase())) throw badInput(argument, `${value} cannot be set`);
  return value;
}

export function validateApiKey(value: string, argument: string): string {
  if (value.length > MAX_API_KEY_LENGTH) throw badInput(argument, `must be at most ${MAX_API_KEY_LENGTH} characters`);
  if (/[\r\n\0]/.test(value)) throw badInput(argument, 'must not contain line breaks or NUL');
  return value;
}

/** Custom headers: legal, unique case-insensitively, bounded, and not the header that carries the key. */
export function validateCustomHeaders(headers: Header[], apiKeyHeader: string | null, argument: string): Header[] {
  if (headers.length > MAX_HEADERS) throw badInput(argument, `at most ${MAX_HEADERS} headers`);
  const keyHeader = (apiKeyHeader ?? 'authorization').toLowerCase();
  const seen = new Set<string>();
  return headers.map((header, index) => {
    const at = `${argument}[${index}]`;
    const name = validateHeaderName(header.name, `${at}.name`);
    const lower = name.toLowerCase();
    if (seen.has(lower)) throw badInput(`${at}.name`, `duplicate header ${name}`);
    if (lower === keyHeader) throw badInput(`${at}.name`, `${name} carries the API key; set apiKey instead`);
    seen.add(lower);
    if (header.value.length > MAX_HEADER_VALUE_LENGTH) throw badInput(`${at}.value`, `must be at most ${MAX_HEADER_VALUE_LENGTH} characters`);
    if (/[\r\n\0]/.test(header.value)) throw badInput(`${at}.value`, 'must not contain line breaks or NUL');
    return { name, value: header.value };
  });
}
