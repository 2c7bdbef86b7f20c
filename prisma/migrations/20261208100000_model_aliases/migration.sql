-- Model aliases with fallbacks (SPEC §18): a name for an ordered list of catalog
-- entries, at organization level (workspace_id null) or for one workspace, where it
-- overrides the organization's alias of the same name.
--
-- The targets are rows of their own, one per position, so that deleting a catalog entry
-- removes it from every alias by the foreign key's cascade (the other targets keep
-- their positions, hence their order) and resolving an alias reads all its targets in
-- one statement whatever their number.

-- Clients must tolerate new subject types (see the enum's description in the schema).
ALTER TYPE "change_subject" ADD VALUE 'MODEL_ALIAS';

CREATE TABLE "agent_model_alias" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "workspace_id" UUID,
    "name" VARCHAR(63) NOT NULL,
    "description" VARCHAR(500),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "agent_model_alias_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "agent_model_alias_name_format" CHECK ("name" ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    CONSTRAINT "agent_model_alias_organization_id_fkey" FOREIGN KEY ("organization_id")
        REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    -- A workspace alias goes with its workspace, which must be of the alias's organization.
    CONSTRAINT "agent_model_alias_organization_id_workspace_id_fkey" FOREIGN KEY ("organization_id", "workspace_id")
        REFERENCES "workspace"("organization_id", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
-- One organization alias per name, and one per name in each workspace: NULLs compare equal.
CREATE UNIQUE INDEX "agent_model_alias_name_key" ON "agent_model_alias"("organization_id", "workspace_id", "name") NULLS NOT DISTINCT;
CREATE UNIQUE INDEX "agent_model_alias_organization_id_id_key" ON "agent_model_alias"("organization_id", "id");
-- Listing by name, and a workspace's aliases (its cascade).
CREATE INDEX "agent_model_alias_organization_id_name_id_idx" ON "agent_model_alias"("organization_id", "name", "id");
CREATE INDEX "agent_model_alias_workspace_id_idx" ON "agent_model_alias"("workspace_id");

CREATE TABLE "agent_model_alias_target" (
    "organization_id" UUID NOT NULL,
    "alias_id" UUID NOT NULL,
    -- 0 is the model to use, the following ones its fallbacks in order.
    "position" SMALLINT NOT NULL,
    "catalog_id" UUID NOT NULL,
    CONSTRAINT "agent_model_alias_target_pkey" PRIMARY KEY ("alias_id", "position"),
    CONSTRAINT "agent_model_alias_target_position_range" CHECK ("position" BETWEEN 0 AND 9),
    CONSTRAINT "agent_model_alias_target_alias_fkey" FOREIGN KEY ("organization_id", "alias_id")
        REFERENCES "agent_model_alias"("organization_id", "id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "agent_model_alias_target_catalog_id_fkey" FOREIGN KEY ("catalog_id")
        REFERENCES "agent_catalog"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
-- Each entry at most once per alias.
CREATE UNIQUE INDEX "agent_model_alias_target_alias_id_catalog_id_key" ON "agent_model_alias_target"("alias_id", "catalog_id");
CREATE INDEX "agent_model_alias_target_catalog_id_idx" ON "agent_model_alias_target"("catalog_id");

GRANT SELECT, INSERT, UPDATE, DELETE ON "agent_model_alias", "agent_model_alias_target" TO mcp_app;

ALTER TABLE "agent_model_alias" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "agent_model_alias" FORCE ROW LEVEL SECURITY;
ALTER TABLE "agent_model_alias_target" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "agent_model_alias_target" FORCE ROW LEVEL SECURITY;

-- As for grants: own organization only, and a workspace-bound token sees the
-- organization's aliases and its own workspace's.
CREATE POLICY "agent_model_alias_tenant" ON "agent_model_alias" TO mcp_app
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND ((SELECT NULLIF(current_setting('app.current_workspace_id', true), '')) IS NULL
            OR "workspace_id" IS NULL
            OR "workspace_id" = (SELECT NULLIF(current_setting('app.current_workspace_id', true), '')::uuid)))
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));

-- A target may only name a catalog row the tenant can see (the subquery runs under RLS).
CREATE POLICY "agent_model_alias_target_tenant" ON "agent_model_alias_target" TO mcp_app
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND EXISTS (SELECT 1 FROM "agent_catalog" c WHERE c."id" = "catalog_id"));

-- Change feed: MODEL_ALIAS CREATED and DELETED with the alias row (a workspace's
-- aliases deleted with it included); UPDATED once per transaction and alias whose
-- description or targets changed, a target removed with its catalog entry included.
-- Target changes of an alias created or deleted in the same transaction make no event
-- of their own.
CREATE FUNCTION "change_feed_model_alias_updated"(aliases UUID[]) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE recorded BIGINT;
BEGIN
  INSERT INTO change_event (organization_id, workspace_id, subject_type, action, subject_id, actor_subject)
  SELECT a.organization_id, a.workspace_id, 'MODEL_ALIAS', 'UPDATED', a.id, change_feed_actor()
  FROM agent_model_alias a
  WHERE a.id IN (SELECT DISTINCT unnest(aliases))
    AND NOT EXISTS (SELECT 1 FROM change_event e
                     WHERE e.organization_id = a.organization_id AND e.xid = pg_current_xact_id()
                       AND e.subject_type = 'MODEL_ALIAS' AND e.subject_id = a.id);
  GET DIAGNOSTICS recorded = ROW_COUNT;
  RETURN recorded;
END $$;

CREATE FUNCTION "change_feed_model_alias"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  recorded BIGINT;
  changed UUID[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO change_event (organization_id, workspace_id, subject_type, action, subject_id, actor_subject)
    SELECT n.organization_id, n.workspace_id, 'MODEL_ALIAS', 'CREATED', n.id, change_feed_actor() FROM new_rows n;
    GET DIAGNOSTICS recorded = ROW_COUNT;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(n.id) INTO changed FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE to_jsonb(o) - 'updated_at' IS DISTINCT FROM to_jsonb(n) - 'updated_at';
    recorded := CASE WHEN changed IS NULL THEN 0 ELSE change_feed_model_alias_updated(changed) END;
  ELSE
    INSERT INTO change_event (organization_id, workspace_id, subject_type, action, subject_id, actor_subject)
    SELECT o.organization_id, o.workspace_id, 'MODEL_ALIAS', 'DELETED', o.id, change_feed_actor() FROM old_rows o;
    GET DIAGNOSTICS recorded = ROW_COUNT;
  END IF;
  IF recorded > 0 THEN PERFORM change_feed_notify(); END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION "change_feed_model_alias_target"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE changed UUID[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.alias_id) INTO changed FROM new_rows n;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(n.alias_id) INTO changed FROM new_rows n;
  ELSE
    SELECT array_agg(o.alias_id) INTO changed FROM old_rows o;
  END IF;
  IF changed IS NOT NULL AND change_feed_model_alias_updated(changed) > 0 THEN
    PERFORM change_feed_notify();
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "agent_model_alias_change_insert" AFTER INSERT ON "agent_model_alias"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_model_alias();
CREATE TRIGGER "agent_model_alias_change_update" AFTER UPDATE ON "agent_model_alias"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_model_alias();
CREATE TRIGGER "agent_model_alias_change_delete" AFTER DELETE ON "agent_model_alias"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_model_alias();

CREATE TRIGGER "agent_model_alias_target_change_insert" AFTER INSERT ON "agent_model_alias_target"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_model_alias_target();
CREATE TRIGGER "agent_model_alias_target_change_update" AFTER UPDATE ON "agent_model_alias_target"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_model_alias_target();
CREATE TRIGGER "agent_model_alias_target_change_delete" AFTER DELETE ON "agent_model_alias_target"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_model_alias_target();
