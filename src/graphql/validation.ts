import { badInput } from './errors.ts';

// C0/C1 control characters (tab excluded) have no place in names or identifiers.
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** A required single-line text: trimmed, 1..max characters, no control characters. */
export function requiredText(value: string | null | undefined, argument: string, max: number): string {
  if (value === null || value === undefined) throw badInput(argument, 'must not be null');
  const trimmed = value.trim();
  if (trimmed.length === 0) throw badInput(argument, 'must not be empty');
  if (trimmed.length > max) throw badInput(argument, `must be at most ${max} characters`);
  if (CONTROL_CHARACTERS.test(trimmed)) throw badInput(argument, 'must not contain control characters');
  return trimmed;
}

/** Like requiredText, but null/undefined/blank pass through as null. */
export function optionalText(value: string | null | undefined, argument: string, max: number): string | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  return requiredText(value, argument, max);
}

/**
 * An absolute http(s) URL with a host and no userinfo, trimmed and at most `max`
 * characters: what every URL the service will send requests to must be (provider base
 * URLs, webhook URLs); each adds its own rules.
 */
export function httpUrl(value: string, argument: string, max: number, credentialsAdvice = ''): { text: string; url: URL } {
  const text = value.trim();
  if (text.length > max) throw badInput(argument, `must be at most ${max} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badInput(argument, 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badInput(argument, 'scheme must be http or https');
  if (!url.hostname) throw badInput(argument, 'must name a host');
  // The WHATWG parser drops an empty userinfo (`https://@host`), so the text is checked too.
  if (url.username || url.password || /^[a-z]+:\/\/[^/?#]*@/i.test(text)) {
    throw badInput(argument, `must not carry credentials (user:password@)${credentialsAdvice}`);
  }
  return { text, url };
}
