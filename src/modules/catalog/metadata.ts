/**
 * Typed views of `agent_catalog.model_metadata` (SPEC §3). Capabilities, limits and
 * pricing are derived from it by PostgreSQL, in generated columns.
 */

type Metadata = Record<string, unknown>;

const CAPABILITY_PREFIX = 'supports_';

export function capabilityKey(capability: string): string {
  return `${CAPABILITY_PREFIX}${capability}`;
}

export function asMetadata(value: unknown): Metadata {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Metadata) : {};
}
