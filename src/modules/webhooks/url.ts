import type { Config } from '../../config.ts';
import { badInput } from '../../graphql/errors.ts';
import { httpUrl } from '../../graphql/validation.ts';
import { assertOutboundUrl } from '../../security/outbound-http.ts';

export const MAX_URL_LENGTH = 2048;

/**
 * A webhook URL as SPEC §19 wants it: absolute http(s) with a host, at most 2048
 * characters, no userinfo, no fragment, https only in production unless
 * WEBHOOK_ALLOW_HTTP, and no literal address the outbound rules refuse (names are
 * judged again when connecting, after DNS).
 */
export function validateWebhookUrl(value: string, argument: string, config: Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOW_HTTP'>): string {
  const { text: trimmed, url } = httpUrl(value, argument, MAX_URL_LENGTH);
  if (url.protocol === 'http:' && config.NODE_ENV === 'production' && !config.WEBHOOK_ALLOW_HTTP) {
    throw badInput(argument, 'must use https (set WEBHOOK_ALLOW_HTTP=true to allow http)');
  }
  if (url.hash || trimmed.includes('#')) throw badInput(argument, 'must not contain a fragment');
  assertOutboundUrl(url, argument);
  return trimmed;
}
