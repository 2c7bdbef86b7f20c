/**
 * Typed views of `agent_catalog.model_metadata` (SPEC §3). Capabilities, limits and
 * pricing are derived from it by PostgreSQL, in generated columns, and combined with
 * overrides and inherited values into the entry's effective_* columns by triggers
 * (SPEC §14; read through the agent_catalog_effective view).
 */

type Metadata = Record<string, unknown>;

const CAPABILITY_PREFIX = 'supports_';

/** A capability name, as in CatalogEntry.capabilities (the key without its prefix). */
export const CAPABILITY_PATTERN = /^[a-z0-9_]{1,64}$/;

export function capabilityKey(capability: string): string {
  return `${CAPABILITY_PREFIX}${capability}`;
}

export function asMetadata(value: unknown): Metadata {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Metadata) : {};
}
