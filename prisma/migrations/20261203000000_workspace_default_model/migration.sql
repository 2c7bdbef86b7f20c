-- A workspace's own default model (SPEC §13), beside the organization's default (the
-- organization_setting keys). It goes with its workspace. When its catalog entry is
-- deleted the row stays with catalog_id null: a default that stopped being effective
-- resolves to null, and dropping the row instead would silently hand the workspace the
-- organization's default, another model.
CREATE TABLE "workspace_default_model" (
    "organization_id" UUID NOT NULL,
    "workspace_id" UUID NOT NULL,
    "catalog_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "workspace_default_model_pkey" PRIMARY KEY ("organization_id", "workspace_id"),
    CONSTRAINT "workspace_default_model_organization_id_workspace_id_fkey" FOREIGN KEY ("organization_id", "workspace_id")
        REFERENCES "workspace"("organization_id", "id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "workspace_default_model_catalog_id_fkey" FOREIGN KEY ("catalog_id")
        REFERENCES "agent_catalog"("id") ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE INDEX "workspace_default_model_catalog_id_idx" ON "workspace_default_model"("catalog_id");

GRANT SELECT, INSERT, UPDATE, DELETE ON "workspace_default_model" TO mcp_app;

ALTER TABLE "workspace_default_model" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "workspace_default_model" FORCE ROW LEVEL SECURITY;

-- As for grants: own organization only, a workspace-bound token its own workspace only,
-- and a default may only name a catalog row the tenant can see.
CREATE POLICY "workspace_default_model_tenant" ON "workspace_default_model" TO mcp_app
    USING ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid
       AND (NULLIF(current_setting('app.current_workspace_id', true), '') IS NULL
            OR "workspace_id" = NULLIF(current_setting('app.current_workspace_id', true), '')::uuid))
    WITH CHECK ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid
       AND ("catalog_id" IS NULL OR EXISTS (SELECT 1 FROM "agent_catalog" c WHERE c."id" = "catalog_id")));

-- Change feed: one DEFAULT_MODEL UPDATED per transaction and workspace whose default was
-- set, changed, cleared or removed with its workspace (an upsert fires the INSERT and the
-- UPDATE trigger), naming the catalog id stored afterwards (null when cleared).
CREATE FUNCTION "change_feed_workspace_default_model"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  organizations UUID[];
  workspaces UUID[];
  recorded BIGINT;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.organization_id), array_agg(n.workspace_id) INTO organizations, workspaces FROM new_rows n;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(n.organization_id), array_agg(n.workspace_id) INTO organizations, workspaces
      FROM new_rows n JOIN old_rows o ON o.organization_id = n.organization_id AND o.workspace_id = n.workspace_id
     WHERE n.catalog_id IS DISTINCT FROM o.catalog_id;
  ELSE
    SELECT array_agg(o.organization_id), array_agg(o.workspace_id) INTO organizations, workspaces FROM old_rows o;
  END IF;
  IF workspaces IS NULL THEN RETURN NULL; END IF;
  INSERT INTO change_event (organization_id, workspace_id, subject_type, action, catalog_entry_id, actor_subject)
  SELECT c.organization_id, c.workspace_id, 'DEFAULT_MODEL', 'UPDATED',
         (SELECT d.catalog_id FROM workspace_default_model d
           WHERE d.organization_id = c.organization_id AND d.workspace_id = c.workspace_id),
         change_feed_actor()
  FROM (SELECT DISTINCT * FROM unnest(organizations, workspaces) AS u(organization_id, workspace_id)) c
  WHERE NOT EXISTS (SELECT 1 FROM change_event e
                     WHERE e.organization_id = c.organization_id AND e.xid = pg_current_xact_id()
                       AND e.subject_type = 'DEFAULT_MODEL' AND e.workspace_id = c.workspace_id);
  GET DIAGNOSTICS recorded = ROW_COUNT;
  IF recorded > 0 THEN PERFORM change_feed_notify(); END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "workspace_default_model_change_insert" AFTER INSERT ON "workspace_default_model"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_workspace_default_model();
CREATE TRIGGER "workspace_default_model_change_update" AFTER UPDATE ON "workspace_default_model"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_workspace_default_model();
CREATE TRIGGER "workspace_default_model_change_delete" AFTER DELETE ON "workspace_default_model"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_workspace_default_model();
