import crypto from 'node:crypto';
import type { SecretBox } from '../../security/crypto.ts';

const PREFIX = 'whsec_';

/** What `webhook_endpoint.encrypted_secret` holds, sealed: the current secret and, after a rotation, the previous one. */
interface SealedSecrets {
  current: string;
  previous?: string;
}

/** A new signing secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks). */
export function generateSecret(): string {
  return PREFIX + crypto.randomBytes(32).toString('base64');
}

export function sealSecrets(box: SecretBox, current: string, previous?: string): Uint8Array<ArrayBuffer> {
  return box.seal(previous ? { current, previous } : { current });
}

/**
 * The secrets that sign now: the current one, and the previous one while the rotation's
 * overlap lasts.
 */
export function signingSecrets(box: SecretBox, sealed: Uint8Array, rotatedAt: Date | null, overlapMs: number, now = Date.now()): string[] {
  const secrets = box.open<SealedSecrets>(sealed);
  const overlapping = secrets.previous && rotatedAt && now < rotatedAt.getTime() + overlapMs;
  return overlapping ? [secrets.current, secrets.previous!] : [secrets.current];
}

export function currentSecret(box: SecretBox, sealed: Uint8Array): string {
  return box.open<SealedSecrets>(sealed).current;
}

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
 * keyed with each secret's decoded bytes, space-separated.
 */
export function signatureHeader(secrets: readonly string[], webhookId: string, timestamp: number, body: string): string {
  return secrets
    .map((secret) => {
      const key = Buffer.from(secret.slice(PREFIX.length), 'base64');
      return `v1,${crypto.createHmac('sha256', key).update(`${webhookId}.${timestamp}.${body}`).digest('base64')}`;
    })
    .join(' ');
}
