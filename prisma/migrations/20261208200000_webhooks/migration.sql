-- Webhooks (SPEC §19): endpoints that receive the change feed as signed POSTs, and
-- their deliveries, an outbox filled from the feed itself.
--
-- The outbox. A statement-level trigger on change_event inserts, in the transaction
-- that records the events, one delivery per event and enabled endpoint whose filter
-- it matches: one INSERT … SELECT per statement that records events, whatever their
-- number. So a delivery exists exactly for the events that commit (a rolled-back
-- change records neither) and nothing committed is missed. When it queued any, it
-- notifies mcp_webhooks, which like the feed's own notification is delivered on
-- commit only: every instance's dispatcher wakes with the deliveries visible, and
-- changes that queue nothing wake no dispatcher.
--
-- Deliveries copy what their payload needs from the event, so the dispatcher never
-- reads the feed, and are pruned with the feed's events.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mcp_webhooks') THEN
    CREATE ROLE mcp_webhooks NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT mcp_webhooks TO %I', current_user);
  END IF;
END
$$;

CREATE TYPE "webhook_disabled_reason" AS ENUM ('MANUAL', 'GONE', 'FAILING');
CREATE TYPE "webhook_delivery_status" AS ENUM ('PENDING', 'SUCCEEDED', 'FAILED');

CREATE TABLE "webhook_endpoint" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "url" VARCHAR(2048) NOT NULL,
    "description" VARCHAR(500),
    -- empty: every kind of subject (text, so that new kinds need no change here)
    "filter_subject_types" TEXT[] NOT NULL DEFAULT '{}',
    "filter_workspace_id" UUID,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "disabled_reason" "webhook_disabled_reason",
    -- The signing secrets, sealed like provider secrets: the current one and, during a
    -- rotation's overlap, the previous one.
    "encrypted_secret" BYTEA NOT NULL,
    "secret_rotated_at" TIMESTAMPTZ(3),
    "failing_since" TIMESTAMPTZ(3),
    "last_success_at" TIMESTAMPTZ(3),
    -- The instance dispatching this endpoint's deliveries, until lease_until.
    "lease_owner" UUID,
    "lease_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_endpoint_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "webhook_endpoint_organization_id_fkey" FOREIGN KEY ("organization_id")
        REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "webhook_endpoint_organization_created_idx" ON "webhook_endpoint"("organization_id", "created_at" DESC, "id" DESC);
CREATE INDEX "webhook_endpoint_enabled_idx" ON "webhook_endpoint"("organization_id") WHERE "enabled";

CREATE TABLE "webhook_delivery" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "endpoint_id" UUID NOT NULL,
    -- The event's position (no foreign key: deliveries and events are pruned alike,
    -- separately); its transaction id as a bigint, which an xid8 fits in for ages.
    "event_id" BIGINT NOT NULL,
    "event_xid" BIGINT NOT NULL,
    "subject_type" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subject_id" UUID,
    "workspace_id" UUID,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "status" "webhook_delivery_status" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_attempt_at" TIMESTAMPTZ(3),
    "last_response_status" INTEGER,
    "last_error" VARCHAR(500),
    -- The instance making the current attempt, until lease_until.
    "lease_owner" UUID,
    "lease_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_delivery_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "webhook_delivery_endpoint_id_fkey" FOREIGN KEY ("endpoint_id")
        REFERENCES "webhook_endpoint"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
-- The dispatcher's claim: whether an endpoint has a due delivery, its due deliveries in
-- feed order, and when the next retry is due.
CREATE INDEX "webhook_delivery_endpoint_due_idx" ON "webhook_delivery"("endpoint_id", "next_attempt_at") WHERE "status" = 'PENDING';
CREATE INDEX "webhook_delivery_order_idx" ON "webhook_delivery"("endpoint_id", "event_xid", "event_id") WHERE "status" = 'PENDING';
CREATE INDEX "webhook_delivery_pending_idx" ON "webhook_delivery"("next_attempt_at") WHERE "status" = 'PENDING';
-- WebhookEndpoint.deliveries, newest first.
CREATE INDEX "webhook_delivery_endpoint_created_idx" ON "webhook_delivery"("endpoint_id", "created_at" DESC, "id" DESC);
CREATE INDEX "webhook_delivery_created_at_idx" ON "webhook_delivery"("created_at");

-- Privileges: tenants manage their endpoints, read their deliveries and queue replays;
-- mcp_webhooks (the dispatcher, and the outbox trigger) reads every endpoint and
-- writes every delivery.
GRANT SELECT, INSERT, UPDATE, DELETE ON "webhook_endpoint" TO mcp_app;
GRANT SELECT, INSERT ON "webhook_delivery" TO mcp_app;
GRANT USAGE ON SCHEMA public TO mcp_webhooks;
GRANT SELECT, UPDATE ON "webhook_endpoint" TO mcp_webhooks;
GRANT SELECT, INSERT, UPDATE, DELETE ON "webhook_delivery" TO mcp_webhooks;

ALTER TABLE "webhook_endpoint" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "webhook_endpoint" FORCE ROW LEVEL SECURITY;
ALTER TABLE "webhook_delivery" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "webhook_delivery" FORCE ROW LEVEL SECURITY;

-- Own organization only, and never for a workspace-bound token.
CREATE POLICY "webhook_endpoint_tenant" ON "webhook_endpoint" TO mcp_app
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND (SELECT NULLIF(current_setting('app.current_workspace_id', true), '')) IS NULL)
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND (SELECT NULLIF(current_setting('app.current_workspace_id', true), '')) IS NULL);
CREATE POLICY "webhook_delivery_tenant" ON "webhook_delivery" TO mcp_app
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND (SELECT NULLIF(current_setting('app.current_workspace_id', true), '')) IS NULL)
    -- A replay queues deliveries only for an endpoint of the tenant's own.
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND (SELECT NULLIF(current_setting('app.current_workspace_id', true), '')) IS NULL
       AND EXISTS (SELECT 1 FROM "webhook_endpoint" w WHERE w."id" = "endpoint_id"));
CREATE POLICY "webhook_endpoint_dispatcher" ON "webhook_endpoint" TO mcp_webhooks USING (true);
CREATE POLICY "webhook_delivery_dispatcher" ON "webhook_delivery" TO mcp_webhooks USING (true);

-- The outbox: runs as mcp_webhooks (its owner), so that a platform event reaches every
-- organization's endpoints and a tenant's event only its own organization's.
--
-- Endpoints change under a lock (webhook_endpoints_changing): every transaction that
-- records events holds it shared from its first event on, and creating, enabling,
-- disabling, re-filtering or deleting an endpoint takes it exclusively. So a change to
-- an endpoint waits for the transactions that recorded events before it (their events
-- committed before it did, under the old state), and the transactions that record
-- events after it wait for it to commit and then see it (each statement of the
-- function reads a fresh snapshot): an event gets a delivery exactly when it commits
-- while the endpoint is enabled and matching, and a delivery never names an endpoint
-- deleted meanwhile. The exclusive lock is only ever tried, never queued for: a queued
-- request would hold back the writers that come after it, one of which may hold a row
-- that a writer already holding the lock waits for (a deadlock). Tried again for a few
-- seconds, then refused with lock_not_available.
CREATE FUNCTION "webhook_endpoints_lock_key"() RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $$ SELECT 7270737001::bigint $$;
CREATE FUNCTION "webhook_endpoints_changing"() RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
  FOR attempt IN 1..100 LOOP
    IF pg_try_advisory_xact_lock(webhook_endpoints_lock_key()) THEN RETURN; END IF;
    PERFORM pg_sleep(least(attempt, 10) * 0.005);
  END LOOP;
  RAISE EXCEPTION 'changes are being recorded without pause' USING ERRCODE = '55P03';
END $$;
CREATE FUNCTION "webhook_outbox"() RETURNS TRIGGER
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE queued BIGINT;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(webhook_endpoints_lock_key());
  INSERT INTO webhook_delivery (organization_id, endpoint_id, event_id, event_xid, subject_type, action,
                                subject_id, workspace_id, occurred_at)
  SELECT w.organization_id, w.id, n.id, n.xid::text::bigint, n.subject_type::text, n.action::text, n.subject_id, n.workspace_id, n.occurred_at
    FROM new_rows n
    JOIN webhook_endpoint w ON w.enabled
     AND (n.organization_id IS NULL OR w.organization_id = n.organization_id)
     AND (cardinality(w.filter_subject_types) = 0 OR n.subject_type::text = ANY (w.filter_subject_types))
     AND (w.filter_workspace_id IS NULL OR n.workspace_id = w.filter_workspace_id);
  GET DIAGNOSTICS queued = ROW_COUNT;
  IF queued > 0 THEN PERFORM pg_notify('mcp_webhooks', ''); END IF;
  RETURN NULL;
END $$;
-- A new owner needs CREATE on the schema at the moment it takes the function over only.
GRANT CREATE ON SCHEMA public TO mcp_webhooks;
ALTER FUNCTION "webhook_outbox"() OWNER TO mcp_webhooks;
REVOKE CREATE ON SCHEMA public FROM mcp_webhooks;

CREATE TRIGGER "change_event_webhook_outbox" AFTER INSERT ON "change_event"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox();
