// The upsertPlatformCatalog mutation, apart from the seeding in platform.ts: startup imports
// that before the schema, and the schema's order must not depend on who imports first.
import { builder, access } from '../../graphql/builder.ts';
import { badInput } from '../../graphql/errors.ts';
import { defineMutation } from '../../graphql/mutation.ts';
import { bounded } from '../../graphql/input-bounds.ts';
import { upsertPlatformEntries, type PlatformEntry } from './platform.ts';


const MAX_ENTRIES = 1000;

const PlatformCatalogEntryInput = builder.inputType('PlatformCatalogEntryInput', {
  fields: (t) => ({
    modelProvider: t.string({ required: true }),
    modelName: t.string({ required: true }),
    metadata: t.field({ type: 'JSONObject' }),
  }),
});
const UpsertPlatformCatalogInput = builder.inputType('UpsertPlatformCatalogInput', {
  fields: (t) => ({ entries: t.field({ type: [PlatformCatalogEntryInput], required: true, ...bounded({ maxItems: MAX_ENTRIES }) }) }),
});
const UpsertPlatformCatalogPayload = builder
  .objectRef<{ insertedCount: number; updatedCount: number }>('UpsertPlatformCatalogPayload')
  .implement({
    fields: (t) => ({ insertedCount: t.exposeInt('insertedCount'), updatedCount: t.exposeInt('updatedCount') }),
  });

function validateEntries(
  input: { modelProvider: string; modelName: string; metadata?: Record<string, unknown> | null }[],
): PlatformEntry[] {
  const seen = new Set<string>();
  return input.map((entry, index) => {
    const at = `input.entries[${index}]`;
    const modelProvider = entry.modelProvider.trim();
    const modelName = entry.modelName.trim();
    if (modelProvider.length < 1 || modelProvider.length > 120) throw badInput(`${at}.modelProvider`, 'must be 1 to 120 characters');
    if (modelName.length < 1 || modelName.length > 500) throw badInput(`${at}.modelName`, 'must be 1 to 500 characters');
    const metadata = entry.metadata ?? {};
    const key = `${modelProvider}\u0000${modelName}`;
    if (seen.has(key)) throw badInput(`${at}`, `duplicate entry ${modelProvider}/${modelName}`);
    seen.add(key);
    return { modelProvider, modelName, metadata };
  });
}

defineMutation('upsertPlatformCatalog', {
  access: access(['platform:admin']),
  audit: { resourceType: 'agent_catalog', action: 'update', platform: true },
  repeatable: true,
  input: UpsertPlatformCatalogInput,
  payload: UpsertPlatformCatalogPayload,
  resolve: async (input, _ctx, op) => {
    const entries = validateEntries(input.entries);
    const { inserted, updated } = await op.commit((tx) => upsertPlatformEntries(tx, entries));
    return { insertedCount: inserted, updatedCount: updated };
  },
});
