import type { Config } from '../../config.ts';
import { badInput } from '../../graphql/errors.ts';
import { assertOutboundUrl } from '../../security/outbound-http.ts';

export const MAX_URL_LENGTH = 2048;

/**
 * A webhook URL as SPEC §19 wants it: absolute http(s) with a host, at most 2048
 * characters, no userinfo, no fragment, https only in production unless
 * WEBHOOK_ALLOW_HTTP, and no literal address the outbound rules refuse (names are
 * judged again when connecting, after DNS).
 */
export function validateWebhookUrl(value: string, argument: string, config: Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOW_HTTP'>): string {
  const trimmed = value.trim();
  if (trimmed.length > MAX_URL_LENGTH) throw badInput(argument, `must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw badInput(argument, 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw badInput(argument, 'scheme must be https or http');
  if (url.protocol === 'http:' && config.NODE_ENV === 'production' && !config.WEBHOOK_ALLOW_HTTP) {
    throw badInput(argument, 'must use https (set WEBHOOK_ALLOW_HTTP=true to allow http)');
  }
  if (!url.hostname) throw badInput(argument, 'must name a host');
  if (url.username || url.password || /^[a-z]+:\/\/[^/?#]*@/i.test(trimmed)) throw badInput(argument, 'must not carry credentials (user:password@)');
  if (url.hash || trimmed.includes('#')) throw badInput(argument, 'must not contain a fragment');
  assertOutboundUrl(url, argument);
  return trimmed;
}
