import type { SecretBox } from '../../security/crypto.ts';

export interface Header {
  name: string;
  value: string;
}

/** What `agent_custom_provider.encrypted_config` holds, sealed. */
export interface ProviderSecrets {
  apiKey?: string;
  customHeaders?: Header[];
}

export function openProviderSecrets(box: SecretBox, encrypted: Uint8Array | null): ProviderSecrets {
  return encrypted ? box.open<ProviderSecrets>(encrypted) : {};
}

/** What would be stored, in one canonical form. */
function stored(secrets: ProviderSecrets): ProviderSecrets {
  const result: ProviderSecrets = {};
  if (secrets.apiKey) result.apiKey = secrets.apiKey;
  if (secrets.customHeaders && secrets.customHeaders.length > 0) result.customHeaders = secrets.customHeaders;
  return result;
}

export function sameSecrets(a: ProviderSecrets, b: ProviderSecrets): boolean {
  return JSON.stringify(stored(a)) === JSON.stringify(stored(b));
}

/** Seals the secrets, or null when there are none left to store. */
export function sealProviderSecrets(box: SecretBox, secrets: ProviderSecrets): Uint8Array<ArrayBuffer> | null {
  const kept = stored(secrets);
  return Object.keys(kept).length === 0 ? null : box.seal(kept);
}
