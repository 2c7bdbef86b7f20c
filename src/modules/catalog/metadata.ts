/** Typed views of `agent_catalog.model_metadata` (SPEC §3). */

type Metadata = Record<string, unknown>;

const CAPABILITY_PREFIX = 'supports_';

/** Capability flags that are true, without the prefix, sorted. */
export function capabilitiesOf(metadata: Metadata): string[] {
  // A plain loop: this runs for every entry of every catalog page.
  const capabilities: string[] = [];
  for (const key of Object.keys(metadata)) {
    if (metadata[key] === true && key.startsWith(CAPABILITY_PREFIX)) capabilities.push(key.slice(CAPABILITY_PREFIX.length));
  }
  return capabilities.sort();
}

export function capabilityKey(capability: string): string {
  return `${CAPABILITY_PREFIX}${capability}`;
}

const INT_MAX = 2 ** 31 - 1;

function tokenCount(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= INT_MAX ? value : null;
}

function price(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

export function limitsOf(metadata: Metadata) {
  return {
    maxInputTokens: tokenCount(metadata.max_input_tokens),
    maxOutputTokens: tokenCount(metadata.max_output_tokens),
  };
}

export function pricingOf(metadata: Metadata) {
  return {
    inputCostPerToken: price(metadata.input_cost_per_token),
    outputCostPerToken: price(metadata.output_cost_per_token),
  };
}

export function asMetadata(value: unknown): Metadata {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Metadata) : {};
}
