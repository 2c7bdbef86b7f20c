-- Declared and inherited model properties (SPEC §14).
--
-- What an organization declares for an entry lives in its own column, beside the
-- metadata: discovery replaces model_metadata and never touches it, and it goes with
-- the row when the entry is deleted or pruned. Written by the service only, in this
-- shape (every key optional, absent = nothing declared; all absent is stored as null):
--   {"capabilities": ["vision", …], "max_input_tokens": 128000, "max_output_tokens": 4096,
--    "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05}
-- An UPDATE that writes the same overrides again changes no column, so the change
-- feed's trigger records nothing for it.
ALTER TABLE "agent_catalog"
  ADD COLUMN "overrides" JSONB,
  ADD CONSTRAINT "agent_catalog_overrides_is_object" CHECK ("overrides" IS NULL OR jsonb_typeof("overrides") = 'object');

-- The part of a name after its last `/` (the whole name when it has none), stored so
-- that the inheritance lookup compares plain columns: a platform row is found by name
-- through the index below, which row-level security allows only for conditions
-- without functions that are not leakproof.
ALTER TABLE "agent_catalog"
  ADD COLUMN "model_base_name" VARCHAR(500) NOT NULL GENERATED ALWAYS AS (substring("model_name" FROM '[^/]*$')) STORED;

-- Platform rows by name, for finding the entry a discovered model inherits from.
CREATE INDEX "agent_catalog_platform_model_name_idx" ON "agent_catalog"("model_name", "id") WHERE "organization_id" IS NULL;

-- A declared price (validated by the service: 0 to 1), read without the lower bound
-- catalog_price applies to metadata; null for anything that is not such a number.
CREATE FUNCTION "catalog_declared_price"(value JSONB) RETURNS DOUBLE PRECISION
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN
    CASE WHEN value::numeric BETWEEN 0 AND 1 THEN value::numeric::double precision END
  END
$$;

-- The effective capabilities, limits and pricing of every entry, computed when read,
-- so that they follow the platform catalog and the discovery payload without a stored
-- link that could go stale. Property by property: the override if declared, else the
-- entry's own metadata, else the inherited platform entry's. For capabilities a
-- declared list is the whole set; otherwise each `supports_<x>` key of the entry's
-- own metadata (true or false) wins over the inherited entry's.
--
-- A discovered (CUSTOM_PROVIDER) entry inherits from the platform entry whose name
-- equals its name, or else the part after its last `/`, when exactly one platform
-- entry has that name (platform names are unique per provider only).
--
-- security_invoker: the view reads agent_catalog with the caller's privileges, so
-- row-level security applies to the entry and to the platform rows alike (which every
-- organization may read).
CREATE VIEW "agent_catalog_effective" WITH (security_invoker = true) AS
SELECT c."id",
       i."id" AS "inherits_from_id",
       CASE WHEN c."overrides" ? 'capabilities' THEN c."overrides" -> 'capabilities'
            WHEN i."id" IS NULL THEN c."capabilities"
            ELSE catalog_capabilities(i."model_metadata" || c."model_metadata")
       END AS "capabilities",
       COALESCE(catalog_token_count(c."overrides" -> 'max_input_tokens'), c."max_input_tokens", i."max_input_tokens") AS "max_input_tokens",
       COALESCE(catalog_token_count(c."overrides" -> 'max_output_tokens'), c."max_output_tokens", i."max_output_tokens") AS "max_output_tokens",
       COALESCE(catalog_declared_price(c."overrides" -> 'input_cost_per_token'), c."input_cost_per_token", i."input_cost_per_token") AS "input_cost_per_token",
       COALESCE(catalog_declared_price(c."overrides" -> 'output_cost_per_token'), c."output_cost_per_token", i."output_cost_per_token") AS "output_cost_per_token"
FROM "agent_catalog" c
LEFT JOIN LATERAL (
  SELECT p."id", p."model_metadata", p."max_input_tokens", p."max_output_tokens", p."input_cost_per_token", p."output_cost_per_token"
  FROM "agent_catalog" p
  WHERE c."custom_provider_id" IS NOT NULL
    AND p."organization_id" IS NULL
    AND p."model_name" IN (c."model_name", c."model_base_name")
    AND NOT EXISTS (SELECT 1 FROM "agent_catalog" q
                     WHERE q."organization_id" IS NULL AND q."model_name" = p."model_name" AND q."id" <> p."id")
  ORDER BY p."model_name" = c."model_name" DESC
  LIMIT 1
) i ON true;

GRANT SELECT ON "agent_catalog_effective" TO mcp_app;
