-- The change feed (SPEC §12): one row per committed change to an object the API shows,
-- written by statement-level triggers in the transaction that makes the change, so
-- every path (mutations, discovery, seeding, cascades) records its events and a
-- rolled-back change records none. An UPDATE that changes nothing but updated_at
-- records nothing either.
--
-- Order. `id` is handed out before commit, so on its own it is not commit order: a
-- transaction that took id 5 may commit after one that took id 6. Each event also
-- carries its transaction's id (`xid`, assigned at the transaction's first write), and
-- the feed is read in (xid, id) order and only below the oldest transaction of this
-- database still in flight in the reading statement's snapshot (change_feed_bound).
-- Nothing can commit below that bound any more, so a reader never skips an event that
-- commits later, and a transaction that committed before another one started always
-- has the smaller xid.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mcp_feed') THEN
    CREATE ROLE mcp_feed NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT mcp_feed TO %I', current_user);
  END IF;
END
$$;

CREATE TYPE "change_subject" AS ENUM ('WORKSPACE', 'CATALOG_ENTRY', 'CUSTOM_PROVIDER', 'MODEL_ACCESS', 'DEFAULT_MODEL');
CREATE TYPE "change_action" AS ENUM ('CREATED', 'UPDATED', 'DELETED');

-- No foreign keys: an event outlives what it describes.
CREATE TABLE "change_event" (
    "id" BIGINT GENERATED ALWAYS AS IDENTITY,
    "xid" XID8 NOT NULL DEFAULT pg_current_xact_id(),
    -- null: a platform catalog change, part of every organization's feed
    "organization_id" UUID,
    "workspace_id" UUID,
    "subject_type" "change_subject" NOT NULL,
    "action" "change_action" NOT NULL,
    -- null for DEFAULT_MODEL
    "subject_id" UUID,
    "catalog_entry_id" UUID,
    -- null for changes the service made itself (seeding)
    "actor_subject" VARCHAR(255),
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT "change_event_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "change_event_position_key" ON "change_event"("xid", "id");
CREATE INDEX "change_event_organization_position_idx" ON "change_event"("organization_id", "xid", "id");
CREATE INDEX "change_event_occurred_at_idx" ON "change_event"("occurred_at");

-- Privileges: tenants insert (through the triggers) and read their own and platform
-- events; mcp_feed reads every event for the service's in-process fan-out and prunes
-- expired ones; platform writes insert platform events.
GRANT SELECT, INSERT ON "change_event" TO mcp_app;
GRANT INSERT ON "change_event" TO mcp_platform;
GRANT SELECT, DELETE ON "change_event" TO mcp_feed;
GRANT USAGE ON SCHEMA public TO mcp_feed;

ALTER TABLE "change_event" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "change_event" FORCE ROW LEVEL SECURITY;

-- A workspace-bound token sees its own workspace's events and those of no workspace.
CREATE POLICY "change_event_tenant_read" ON "change_event" FOR SELECT TO mcp_app
    USING (("organization_id" IS NULL
            OR "organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND (NULLIF(current_setting('app.current_workspace_id', true), '') IS NULL
            OR "workspace_id" IS NULL
            OR "workspace_id" = NULLIF(current_setting('app.current_workspace_id', true), '')::uuid));
-- Events are written for the transaction's own organization, or as platform events
-- (organization null) by the platform path. Cascades stay within one organization.
CREATE POLICY "change_event_insert" ON "change_event" FOR INSERT
    WITH CHECK ("organization_id" IS NOT DISTINCT FROM NULLIF(current_setting('app.current_org_id', true), '')::uuid);
CREATE POLICY "change_event_feed" ON "change_event" TO mcp_feed USING (true);

-- The readable end of the feed for the calling statement: the oldest transaction in
-- flight in its snapshot, or the snapshot's xmax when there is none. Transaction ids
-- are shared by every database of the server, but only this database's transactions
-- can write its events: one that the server says is running in another database (or
-- is prepared there) is left out, so a long transaction elsewhere never holds the feed
-- back. One that has ended meanwhile may have been this database's and still counts.
CREATE FUNCTION "change_feed_bound"() RETURNS XID8
LANGUAGE sql STABLE AS $$
  SELECT least(pg_snapshot_xmax(s.snapshot), (
    SELECT min(x.xid) FROM pg_snapshot_xip(s.snapshot) AS x(xid)
     WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                        WHERE a.backend_xid = x.xid::xid AND a.datname IS DISTINCT FROM current_database())
       AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts p
                        WHERE p.transaction = x.xid::xid AND p.database IS DISTINCT FROM current_database())))
  FROM (SELECT pg_current_snapshot() AS snapshot) s
$$;

CREATE FUNCTION "change_feed_actor"() RETURNS VARCHAR
LANGUAGE sql STABLE AS $$ SELECT NULLIF(current_setting('app.actor_subject', true), '') $$;

-- Wakes every instance's feed reader once the transaction commits (NOTIFY is delivered
-- on commit only); the payload is the transaction's id.
CREATE FUNCTION "change_feed_notify"() RETURNS VOID
LANGUAGE sql AS $$ SELECT pg_notify('mcp_change_feed', pg_current_xact_id()::text) $$;

-- Workspaces: CREATED, DELETED.
CREATE FUNCTION "change_feed_workspace"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE recorded BIGINT;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO change_event (organization_id, workspace_id, subject_type, action, subject_id, actor_subject)
    SELECT n.organization_id, n.id, 'WORKSPACE', 'CREATED', n.id, change_feed_actor() FROM new_rows n;
  ELSE
    INSERT INTO change_event (organization_id, workspace_id, subject_type, action, subject_id, actor_subject)
    SELECT o.organization_id, o.id, 'WORKSPACE', 'DELETED', o.id, change_feed_actor() FROM old_rows o;
  END IF;
  GET DIAGNOSTICS recorded = ROW_COUNT;
  IF recorded > 0 THEN PERFORM change_feed_notify(); END IF;
  RETURN NULL;
END $$;

-- Catalog entries (organization, discovered and platform rows): CREATED, UPDATED, DELETED.
CREATE FUNCTION "change_feed_catalog"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE recorded BIGINT;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO change_event (organization_id, subject_type, action, subject_id, catalog_entry_id, actor_subject)
    SELECT n.organization_id, 'CATALOG_ENTRY', 'CREATED', n.id, n.id, change_feed_actor() FROM new_rows n;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO change_event (organization_id, subject_type, action, subject_id, catalog_entry_id, actor_subject)
    SELECT n.organization_id, 'CATALOG_ENTRY', 'UPDATED', n.id, n.id, change_feed_actor()
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE to_jsonb(o) - 'updated_at' IS DISTINCT FROM to_jsonb(n) - 'updated_at';
  ELSE
    INSERT INTO change_event (organization_id, subject_type, action, subject_id, catalog_entry_id, actor_subject)
    SELECT o.organization_id, 'CATALOG_ENTRY', 'DELETED', o.id, o.id, change_feed_actor() FROM old_rows o;
  END IF;
  GET DIAGNOSTICS recorded = ROW_COUNT;
  IF recorded > 0 THEN PERFORM change_feed_notify(); END IF;
  RETURN NULL;
END $$;

-- Custom providers: CREATED, UPDATED (discovery status changes included), DELETED.
CREATE FUNCTION "change_feed_provider"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE recorded BIGINT;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO change_event (organization_id, subject_type, action, subject_id, actor_subject)
    SELECT n.organization_id, 'CUSTOM_PROVIDER', 'CREATED', n.id, change_feed_actor() FROM new_rows n;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO change_event (organization_id, subject_type, action, subject_id, actor_subject)
    SELECT n.organization_id, 'CUSTOM_PROVIDER', 'UPDATED', n.id, change_feed_actor()
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE to_jsonb(o) - 'updated_at' IS DISTINCT FROM to_jsonb(n) - 'updated_at';
  ELSE
    INSERT INTO change_event (organization_id, subject_type, action, subject_id, actor_subject)
    SELECT o.organization_id, 'CUSTOM_PROVIDER', 'DELETED', o.id, change_feed_actor() FROM old_rows o;
  END IF;
  GET DIAGNOSTICS recorded = ROW_COUNT;
  IF recorded > 0 THEN PERFORM change_feed_notify(); END IF;
  RETURN NULL;
END $$;

-- Grants: CREATED, DELETED (they are never updated).
CREATE FUNCTION "change_feed_model_access"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE recorded BIGINT;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO change_event (organization_id, workspace_id, subject_type, action, subject_id, catalog_entry_id, actor_subject)
    SELECT n.organization_id, n.workspace_id, 'MODEL_ACCESS', 'CREATED', n.id, n.catalog_id, change_feed_actor() FROM new_rows n;
  ELSE
    INSERT INTO change_event (organization_id, workspace_id, subject_type, action, subject_id, catalog_entry_id, actor_subject)
    SELECT o.organization_id, o.workspace_id, 'MODEL_ACCESS', 'DELETED', o.id, o.catalog_id, change_feed_actor() FROM old_rows o;
  END IF;
  GET DIAGNOSTICS recorded = ROW_COUNT;
  IF recorded > 0 THEN PERFORM change_feed_notify(); END IF;
  RETURN NULL;
END $$;

-- The organization's default model lives in two settings written together (the catalog
-- id and the legacy name): one DEFAULT_MODEL UPDATED per transaction and organization
-- that changed either (an upsert of both fires the INSERT and the UPDATE trigger), naming
-- the catalog id stored afterwards (null when cleared or not a catalog id).
CREATE FUNCTION "change_feed_default_model_changed"(organizations UUID[]) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE recorded BIGINT;
BEGIN
  INSERT INTO change_event (organization_id, subject_type, action, catalog_entry_id, actor_subject)
  SELECT org.id, 'DEFAULT_MODEL', 'UPDATED',
         (SELECT CASE WHEN s.value #>> '{}' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                      THEN (s.value #>> '{}')::uuid END
            FROM organization_setting s
           WHERE s.organization_id = org.id AND s.key = 'agent_default_model_catalog_id'),
         change_feed_actor()
  FROM (SELECT DISTINCT unnest(organizations) AS id) org
  WHERE NOT EXISTS (SELECT 1 FROM change_event e
                     WHERE e.organization_id = org.id AND e.xid = pg_current_xact_id()
                       AND e.subject_type = 'DEFAULT_MODEL' AND e.workspace_id IS NULL);
  GET DIAGNOSTICS recorded = ROW_COUNT;
  RETURN recorded;
END $$;

CREATE FUNCTION "change_feed_default_model"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE changed UUID[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.organization_id) INTO changed FROM new_rows n
     WHERE n.key IN ('agent_default_model_catalog_id', 'agent_default_model');
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(n.organization_id) INTO changed FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE (n.key IN ('agent_default_model_catalog_id', 'agent_default_model')
            OR o.key IN ('agent_default_model_catalog_id', 'agent_default_model'))
       AND (n.value IS DISTINCT FROM o.value OR n.key IS DISTINCT FROM o.key);
  ELSE
    SELECT array_agg(o.organization_id) INTO changed FROM old_rows o
     WHERE o.key IN ('agent_default_model_catalog_id', 'agent_default_model');
  END IF;
  IF changed IS NOT NULL AND change_feed_default_model_changed(changed) > 0 THEN
    PERFORM change_feed_notify();
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "workspace_change_insert" AFTER INSERT ON "workspace"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_workspace();
CREATE TRIGGER "workspace_change_delete" AFTER DELETE ON "workspace"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_workspace();

CREATE TRIGGER "agent_catalog_change_insert" AFTER INSERT ON "agent_catalog"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_catalog();
CREATE TRIGGER "agent_catalog_change_update" AFTER UPDATE ON "agent_catalog"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_catalog();
CREATE TRIGGER "agent_catalog_change_delete" AFTER DELETE ON "agent_catalog"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_catalog();

CREATE TRIGGER "agent_custom_provider_change_insert" AFTER INSERT ON "agent_custom_provider"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_provider();
CREATE TRIGGER "agent_custom_provider_change_update" AFTER UPDATE ON "agent_custom_provider"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_provider();
CREATE TRIGGER "agent_custom_provider_change_delete" AFTER DELETE ON "agent_custom_provider"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_provider();

CREATE TRIGGER "agent_model_access_change_insert" AFTER INSERT ON "agent_model_access"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_model_access();
CREATE TRIGGER "agent_model_access_change_delete" AFTER DELETE ON "agent_model_access"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_model_access();

CREATE TRIGGER "organization_setting_change_insert" AFTER INSERT ON "organization_setting"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_default_model();
CREATE TRIGGER "organization_setting_change_update" AFTER UPDATE ON "organization_setting"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_default_model();
CREATE TRIGGER "organization_setting_change_delete" AFTER DELETE ON "organization_setting"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION change_feed_default_model();
