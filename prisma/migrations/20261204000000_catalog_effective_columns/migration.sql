-- The effective capabilities, limits and pricing of every entry (SPEC §14; the rules
-- are those of 20261203100000_catalog_overrides), stored with the entry instead of
-- computed by the view when read. Computed when read, a capabilities filter looked
-- the inherited platform entry up for every entry of the organization (about 40 ms
-- for 11 300 entries, against 2.5 ms for a stored column), and every page paid the
-- lookup per row. Stored, they are kept true in the transaction that changes what
-- they derive from:
-- - an entry's own name, metadata or overrides: recomputed before the row is written;
-- - a platform entry inserted, deleted, renamed or given other metadata: the
--   discovered entries of every organization that match its old or new name are
--   recomputed after the statement (catalog_refresh_inheritance).

ALTER TABLE "agent_catalog"
  ADD COLUMN "inherits_from_id" UUID,
  ADD COLUMN "effective_capabilities" JSONB NOT NULL DEFAULT '[]',
  ADD COLUMN "effective_max_input_tokens" INTEGER,
  ADD COLUMN "effective_max_output_tokens" INTEGER,
  ADD COLUMN "effective_input_cost_per_token" DOUBLE PRECISION,
  ADD COLUMN "effective_output_cost_per_token" DOUBLE PRECISION;

-- Before a row is written. Generated columns are computed after BEFORE triggers, so
-- the entry's own values come from its metadata here, by the same functions.
CREATE FUNCTION "catalog_effective_values"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  inherited "agent_catalog";
BEGIN
  -- A discovered entry inherits from the platform entry whose name equals its name,
  -- or else the part after its last `/`, when exactly one platform entry has that name.
  IF NEW."custom_provider_id" IS NOT NULL THEN
    SELECT p.* INTO inherited
    FROM "agent_catalog" p
    WHERE p."organization_id" IS NULL
      AND p."model_name" IN (NEW."model_name", substring(NEW."model_name" FROM '[^/]*$'))
      AND NOT EXISTS (SELECT 1 FROM "agent_catalog" q
                       WHERE q."organization_id" IS NULL AND q."model_name" = p."model_name" AND q."id" <> p."id")
    ORDER BY p."model_name" = NEW."model_name" DESC
    LIMIT 1;
  END IF;
  NEW."inherits_from_id" := inherited."id";
  -- Property by property: the override if declared, else the entry's own metadata,
  -- else the inherited entry's. A declared capability list is the whole set; otherwise
  -- each `supports_<x>` key of the entry's own metadata wins over the inherited one's.
  NEW."effective_capabilities" := CASE
    WHEN NEW."overrides" ? 'capabilities' THEN NEW."overrides" -> 'capabilities'
    WHEN inherited."id" IS NULL THEN catalog_capabilities(NEW."model_metadata")
    ELSE catalog_capabilities(inherited."model_metadata" || NEW."model_metadata")
  END;
  NEW."effective_max_input_tokens" := COALESCE(catalog_token_count(NEW."overrides" -> 'max_input_tokens'),
    catalog_token_count(NEW."model_metadata" -> 'max_input_tokens'), inherited."max_input_tokens");
  NEW."effective_max_output_tokens" := COALESCE(catalog_token_count(NEW."overrides" -> 'max_output_tokens'),
    catalog_token_count(NEW."model_metadata" -> 'max_output_tokens'), inherited."max_output_tokens");
  NEW."effective_input_cost_per_token" := COALESCE(catalog_declared_price(NEW."overrides" -> 'input_cost_per_token'),
    catalog_price(NEW."model_metadata" -> 'input_cost_per_token'), inherited."input_cost_per_token");
  NEW."effective_output_cost_per_token" := COALESCE(catalog_declared_price(NEW."overrides" -> 'output_cost_per_token'),
    catalog_price(NEW."model_metadata" -> 'output_cost_per_token'), inherited."output_cost_per_token");
  RETURN NEW;
END $$;

CREATE TRIGGER "agent_catalog_effective_values" BEFORE INSERT OR UPDATE ON "agent_catalog"
    FOR EACH ROW EXECUTE FUNCTION catalog_effective_values();

-- Recomputing the discovered entries of other organizations is not something the
-- platform path may do itself (row-level security keeps it to platform rows): it is
-- done by this function, as mcp_catalog_inheritance, which may read every entry and
-- rewrite only discovered ones, and only their inheritance (the trigger above does).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mcp_catalog_inheritance') THEN
    CREATE ROLE mcp_catalog_inheritance NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT mcp_catalog_inheritance TO %I', current_user);
  END IF;
END
$$;
-- CREATE: a function's new owner must be allowed to create it where it is.
GRANT USAGE, CREATE ON SCHEMA public TO mcp_catalog_inheritance;
GRANT SELECT, UPDATE ("inherits_from_id") ON "agent_catalog" TO mcp_catalog_inheritance;
-- The change feed's statement trigger runs for its UPDATE too (and records nothing:
-- effective values are not part of an entry's change, see below).
GRANT INSERT ON "change_event" TO mcp_catalog_inheritance;
CREATE POLICY "agent_catalog_inheritance_read" ON "agent_catalog" FOR SELECT TO mcp_catalog_inheritance USING (true);
CREATE POLICY "agent_catalog_inheritance_update" ON "agent_catalog" FOR UPDATE TO mcp_catalog_inheritance
    USING ("custom_provider_id" IS NOT NULL) WITH CHECK ("custom_provider_id" IS NOT NULL);

CREATE FUNCTION "catalog_refresh_inheritance"(names TEXT[]) RETURNS VOID
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE "agent_catalog" SET "inherits_from_id" = "inherits_from_id"
  WHERE "custom_provider_id" IS NOT NULL
    AND ("model_name" = ANY (names) OR "model_base_name" = ANY (names))
$$;
ALTER FUNCTION "catalog_refresh_inheritance"(TEXT[]) OWNER TO mcp_catalog_inheritance;
REVOKE ALL ON FUNCTION "catalog_refresh_inheritance"(TEXT[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "catalog_refresh_inheritance"(TEXT[]) TO mcp_platform;

-- After a statement that wrote platform entries: the names whose entries changed in
-- what an entry inherits (name, metadata), before and after.
CREATE FUNCTION "catalog_platform_changed"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  names TEXT[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT n."model_name") INTO names FROM new_rows n WHERE n."organization_id" IS NULL;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(DISTINCT o."model_name") INTO names FROM old_rows o WHERE o."organization_id" IS NULL;
  ELSE
    SELECT array_agg(DISTINCT name) INTO names
    FROM new_rows n JOIN old_rows o ON o."id" = n."id",
         LATERAL (VALUES (o."model_name"), (n."model_name")) AS changed(name)
    WHERE n."organization_id" IS NULL
      AND (o."model_name" IS DISTINCT FROM n."model_name" OR o."model_metadata" IS DISTINCT FROM n."model_metadata");
  END IF;
  IF names IS NOT NULL THEN PERFORM catalog_refresh_inheritance(names); END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "agent_catalog_platform_insert" AFTER INSERT ON "agent_catalog"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_platform_changed();
CREATE TRIGGER "agent_catalog_platform_update" AFTER UPDATE ON "agent_catalog"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_platform_changed();
CREATE TRIGGER "agent_catalog_platform_delete" AFTER DELETE ON "agent_catalog"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_platform_changed();

-- An entry's change event is about what was written to it; its effective values move
-- with the platform entry it inherits from, whose own event (a platform event, in
-- every organization's feed) says so.
CREATE OR REPLACE FUNCTION "change_feed_catalog"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE recorded BIGINT;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO change_event (organization_id, subject_type, action, subject_id, catalog_entry_id, actor_subject)
    SELECT n.organization_id, 'CATALOG_ENTRY', 'CREATED', n.id, n.id, change_feed_actor() FROM new_rows n;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO change_event (organization_id, subject_type, action, subject_id, catalog_entry_id, actor_subject)
    SELECT n.organization_id, 'CATALOG_ENTRY', 'UPDATED', n.id, n.id, change_feed_actor()
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE to_jsonb(o) - 'updated_at' - 'inherits_from_id' - 'effective_capabilities' - 'effective_max_input_tokens'
            - 'effective_max_output_tokens' - 'effective_input_cost_per_token' - 'effective_output_cost_per_token'
          IS DISTINCT FROM to_jsonb(n) - 'updated_at' - 'inherits_from_id' - 'effective_capabilities' - 'effective_max_input_tokens'
            - 'effective_max_output_tokens' - 'effective_input_cost_per_token' - 'effective_output_cost_per_token';
  ELSE
    INSERT INTO change_event (organization_id, subject_type, action, subject_id, catalog_entry_id, actor_subject)
    SELECT o.organization_id, 'CATALOG_ENTRY', 'DELETED', o.id, o.id, change_feed_actor() FROM old_rows o;
  END IF;
  GET DIAGNOSTICS recorded = ROW_COUNT;
  IF recorded > 0 THEN PERFORM change_feed_notify(); END IF;
  RETURN NULL;
END $$;

-- Every existing entry, once (the trigger computes; the order does not matter: an entry
-- inherits from platform metadata, never from platform effective values). Row-level
-- security is lifted for the table's owner meanwhile, so that a migration user that is
-- not a superuser sees every organization's entries too.
ALTER TABLE "agent_catalog" NO FORCE ROW LEVEL SECURITY;
UPDATE "agent_catalog" SET "inherits_from_id" = NULL;
ALTER TABLE "agent_catalog" FORCE ROW LEVEL SECURITY;

-- A discovered entry's platform entry by name, for catalog_refresh_inheritance.
CREATE INDEX "agent_catalog_discovered_base_name_idx" ON "agent_catalog"("model_base_name") WHERE "custom_provider_id" IS NOT NULL;

-- The view reads the stored values; its columns are as before.
CREATE OR REPLACE VIEW "agent_catalog_effective" WITH (security_invoker = true) AS
SELECT "id",
       "inherits_from_id",
       "effective_capabilities" AS "capabilities",
       "effective_max_input_tokens" AS "max_input_tokens",
       "effective_max_output_tokens" AS "max_output_tokens",
       "effective_input_cost_per_token" AS "input_cost_per_token",
       "effective_output_cost_per_token" AS "output_cost_per_token"
FROM "agent_catalog";
