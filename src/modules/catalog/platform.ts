import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Tx } from '../../db/scope.ts';
import { scopedTransaction } from '../../db/scope.ts';
import type { PrismaClient } from '../../generated/prisma/client.ts';
import type { Logger } from '../../observability/logger.ts';
import { CAPABILITY_PATTERN, capabilityKey } from './metadata.ts';
import { PROJECT_ROOT } from '../../paths.ts';

export const PLATFORM_MODELS_FILE = path.join(PROJECT_ROOT, 'src', 'modules', 'catalog', 'platform-models.json');

export interface PlatformEntry {
  modelProvider: string;
  modelName: string;
  metadata: Record<string, unknown>;
}

const count = z.number().int().nonnegative();
const price = z.number().nonnegative().finite();
const modelSchema = z.object({
  provider: z.string().trim().min(1).max(120),
  name: z.string().trim().min(1).max(500),
  limits: z.object({ maxInputTokens: count.optional(), maxOutputTokens: count.optional() }).default({}),
  pricing: z.object({ inputCostPerToken: price.optional(), outputCostPerToken: price.optional() }).default({}),
  capabilities: z.array(z.string().regex(CAPABILITY_PATTERN)).default([]),
  facts: z.record(z.string(), z.unknown()).default({}),
});

/** The stored metadata of a platform model: its facts under the SPEC's key names. */
function toMetadata(model: z.infer<typeof modelSchema>): Record<string, unknown> {
  const metadata: Record<string, unknown> = { ...model.facts };
  if (model.limits.maxInputTokens !== undefined) metadata.max_input_tokens = model.limits.maxInputTokens;
  if (model.limits.maxOutputTokens !== undefined) metadata.max_output_tokens = model.limits.maxOutputTokens;
  if (model.pricing.inputCostPerToken !== undefined) metadata.input_cost_per_token = model.pricing.inputCostPerToken;
  if (model.pricing.outputCostPerToken !== undefined) metadata.output_cost_per_token = model.pricing.outputCostPerToken;
  for (const capability of model.capabilities) metadata[capabilityKey(capability)] = true;
  return metadata;
}

/**
 * Reads the platform models file. A malformed element is skipped with a warning that
 * names it; a file that cannot be read or parsed yields no models and an error log.
 */
export function loadPlatformModels(file: string, logger: Logger): PlatformEntry[] {
  let document: unknown;
  try {
    document = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    logger.error({ file, err: error }, 'platform catalog file unreadable; no platform models seeded');
    return [];
  }
  const models = (document as { models?: unknown })?.models;
  if (!Array.isArray(models)) {
    logger.error({ file }, 'platform catalog file has no "models" list; no platform models seeded');
    return [];
  }
  const entries: PlatformEntry[] = [];
  const seen = new Set<string>();
  models.forEach((element, index) => {
    const parsed = modelSchema.safeParse(element);
    const label = `${(element as { provider?: unknown })?.provider ?? '?'}/${(element as { name?: unknown })?.name ?? '?'}`;
    if (!parsed.success) {
      logger.warn({ file, index, model: label, problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) },
        `platform model #${index} (${label}) is malformed; skipped`);
      return;
    }
    const key = `${parsed.data.provider}\u0000${parsed.data.name}`;
    if (seen.has(key)) {
      logger.warn({ file, index, model: label }, `platform model #${index} (${label}) is listed twice; skipped`);
      return;
    }
    seen.add(key);
    entries.push({ modelProvider: parsed.data.provider, modelName: parsed.data.name, metadata: toMetadata(parsed.data) });
  });
  return entries;
}

/**
 * Inserts or updates platform rows (organization and custom provider null) in one
 * statement: metadata replaced, nothing deleted. A row whose metadata is already the
 * given one is left untouched (no write, no change event); it still counts as updated.
 * Runs on the platform path only.
 */
export async function upsertPlatformEntries(tx: Tx, entries: PlatformEntry[]): Promise<{ inserted: number; updated: number }> {
  if (entries.length === 0) return { inserted: 0, updated: 0 };
  const rows = JSON.stringify(entries.map((e) => ({ p: e.modelProvider, n: e.modelName, m: e.metadata })));
  const [result] = await tx.$queryRaw<{ inserted: number }[]>`
    WITH written AS (
      INSERT INTO agent_catalog (model_provider, model_name, model_metadata, last_refreshed_at, updated_at)
      SELECT r.p, r.n, r.m, now(), now() FROM jsonb_to_recordset(${rows}::jsonb) AS r(p text, n text, m jsonb)
      ON CONFLICT (organization_id, custom_provider_id, model_provider, model_name)
      DO UPDATE SET model_metadata = EXCLUDED.model_metadata, last_refreshed_at = now(), updated_at = now()
      WHERE agent_catalog.model_metadata IS DISTINCT FROM EXCLUDED.model_metadata
      RETURNING (xmax = 0) AS inserted)
    SELECT count(*) FILTER (WHERE inserted)::int AS inserted FROM written`;
  const inserted = result!.inserted;
  return { inserted, updated: entries.length - inserted };
}

/** Startup seeding of the shipped (or configured) platform models. */
export async function seedPlatformCatalog(prisma: PrismaClient, file: string, logger: Logger): Promise<void> {
  const entries = loadPlatformModels(file, logger);
  const { inserted, updated } = await scopedTransaction(prisma, { kind: 'platform' }, (tx) => upsertPlatformEntries(tx, entries));
  logger.info({ inserted, updated }, 'platform catalog seeded');
}
