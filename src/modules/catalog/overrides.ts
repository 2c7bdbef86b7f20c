import { builder } from '../../graphql/builder.ts';
import { badInput } from '../../graphql/errors.ts';
import { bounded } from '../../graphql/input-bounds.ts';
import { CAPABILITY_PATTERN } from './metadata.ts';
import { CatalogEntryRef } from './schema.ts';

/**
 * Declared model properties (SPEC §14), stored in `agent_catalog.overrides` under the
 * metadata's key names; a key is present only when declared. A trigger combines them
 * into the entry's effective values (agent_catalog_effective).
 */
export type StoredOverrides = {
  capabilities?: string[];
  max_input_tokens?: number;
  max_output_tokens?: number;
  input_cost_per_token?: number;
  output_cost_per_token?: number;
};

export interface ModelOverridesInputShape {
  capabilities?: readonly string[] | null;
  maxInputTokens?: number | null;
  maxOutputTokens?: number | null;
  inputCostPerToken?: number | null;
  outputCostPerToken?: number | null;
}

// The list's length is bounded (and refused beyond) before execution, by its declaration.
const MAX_CAPABILITIES = 64;
const MAX_TOKENS = 100_000_000;

function tokenCount(value: number | null | undefined, argument: string): number | undefined {
  if (value == null) return undefined;
  if (value < 1 || value > MAX_TOKENS) throw badInput(argument, `must be from 1 to ${MAX_TOKENS}`);
  return value;
}

function cost(value: number | null | undefined, argument: string): number | undefined {
  if (value == null) return undefined;
  if (!(value >= 0 && value <= 1)) throw badInput(argument, 'must be from 0 to 1 (USD per token)');
  return value;
}

/**
 * The overrides to store for an input, or null when it declares nothing. A given
 * capability list is the whole declared set (empty: none), sorted and without repeats
 * like CatalogEntry.capabilities.
 */
export function declaredOverrides(input: ModelOverridesInputShape | null | undefined, argument: string): StoredOverrides | null {
  if (input == null) return null;
  const declared: StoredOverrides = {};
  if (input.capabilities != null) {
    for (const capability of input.capabilities) {
      if (!CAPABILITY_PATTERN.test(capability)) {
        throw badInput(`${argument}.capabilities`, 'capability names are 1-64 characters of a-z, 0-9 and _');
      }
    }
    declared.capabilities = [...new Set(input.capabilities)].sort();
  }
  const values = {
    max_input_tokens: tokenCount(input.maxInputTokens, `${argument}.maxInputTokens`),
    max_output_tokens: tokenCount(input.maxOutputTokens, `${argument}.maxOutputTokens`),
    input_cost_per_token: cost(input.inputCostPerToken, `${argument}.inputCostPerToken`),
    output_cost_per_token: cost(input.outputCostPerToken, `${argument}.outputCostPerToken`),
  };
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) declared[key as keyof typeof values] = value;
  }
  return Object.keys(declared).length > 0 ? declared : null;
}

interface ModelOverridesView {
  capabilities: string[] | null;
  maxInputTokens: number | null;
  maxOutputTokens: number | null;
  inputCostPerToken: number | null;
  outputCostPerToken: number | null;
}

function overridesView(stored: unknown): ModelOverridesView | null {
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) return null;
  const overrides = stored as StoredOverrides;
  return {
    capabilities: overrides.capabilities ?? null,
    maxInputTokens: overrides.max_input_tokens ?? null,
    maxOutputTokens: overrides.max_output_tokens ?? null,
    inputCostPerToken: overrides.input_cost_per_token ?? null,
    outputCostPerToken: overrides.output_cost_per_token ?? null,
  };
}

const ModelOverridesRef = builder.objectRef<ModelOverridesView>('ModelOverrides').implement({
  description: '(v2) Declared model properties. A null field declares nothing for that property.',
  fields: (t) => ({
    capabilities: t.exposeStringList('capabilities', { nullable: true }),
    maxInputTokens: t.exposeInt('maxInputTokens', { nullable: true }),
    maxOutputTokens: t.exposeInt('maxOutputTokens', { nullable: true }),
    inputCostPerToken: t.exposeFloat('inputCostPerToken', { nullable: true }),
    outputCostPerToken: t.exposeFloat('outputCostPerToken', { nullable: true }),
  }),
});

export const ModelOverridesInput = builder.inputType('ModelOverridesInput', {
  description: '(v2) Capability names: 1-64 characters of a-z, 0-9 and _, at most 64 of them. Token limits: 1 to 100000000. Costs: 0 to 1.',
  fields: (t) => ({
    capabilities: t.stringList(bounded({ maxItems: MAX_CAPABILITIES, maxLength: 64 })),
    maxInputTokens: t.int(),
    maxOutputTokens: t.int(),
    inputCostPerToken: t.float(),
    outputCostPerToken: t.float(),
  }),
});

builder.objectField(CatalogEntryRef, 'overrides', (t) =>
  t.field({
    type: ModelOverridesRef,
    nullable: true,
    description:
      '(v2) What the organization declared for this entry; it wins over the metadata in capabilities, limits and pricing, and survives discovery refreshes. null: nothing declared.',
    resolve: (row) => overridesView(row.overrides),
  }),
);
