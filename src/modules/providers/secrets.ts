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

/** Seals the secrets, or null when there are none left to store. */
export function sealProviderSecrets(box: SecretBox, secrets: ProviderSecrets): Uint8Array<ArrayBuffer> | null {
  const stored: ProviderSecrets = {};
  if (secrets.apiKey) stored.apiKey = secrets.apiKey;
  if (secrets.customHeaders && secrets.customHeaders.length > 0) stored.customHeaders = secrets.customHeaders;
  return Object.keys(stored).length === 0 ? null : box.seal(stored);
}
