-- Timestamps keep millisecond precision so that keyset cursors (JavaScript Dates)
-- compare exactly with the stored values.

-- Roles. mcp_app runs every tenant request; mcp_platform is the only path that may
-- write platform catalog rows or organizations. Neither can log in or bypass RLS; the
-- service switches to them per transaction (SET LOCAL ROLE), so a superuser
-- DATABASE_URL does not defeat row-level security.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mcp_app') THEN
    CREATE ROLE mcp_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mcp_platform') THEN
    CREATE ROLE mcp_platform NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT mcp_app, mcp_platform TO %I', current_user);
  END IF;
END
$$;

-- Enums
CREATE TYPE "discovery_status" AS ENUM ('NEVER', 'RUNNING', 'SUCCEEDED', 'FAILED');
CREATE TYPE "actor_type" AS ENUM ('USER', 'SERVICE');
CREATE TYPE "audit_status" AS ENUM ('SUCCESS', 'FAILURE');

-- Tables
CREATE TABLE "organization" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "organization_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "workspace" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "workspace_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "workspace_organization_id_fkey" FOREIGN KEY ("organization_id")
        REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "agent_custom_provider" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "display_name" VARCHAR(200) NOT NULL,
    "base_url" VARCHAR(500),
    "passthrough" BOOLEAN NOT NULL DEFAULT false,
    "api_key_header" VARCHAR(120),
    "encrypted_config" BYTEA,
    "discovery_status" "discovery_status" NOT NULL DEFAULT 'NEVER',
    "last_discovery_error" TEXT,
    "last_discovery_started_at" TIMESTAMPTZ(3),
    "last_refreshed_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "agent_custom_provider_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "agent_custom_provider_organization_id_fkey" FOREIGN KEY ("organization_id")
        REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "agent_catalog" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID,
    "custom_provider_id" UUID,
    "model_provider" VARCHAR(120) NOT NULL,
    "model_name" VARCHAR(500) NOT NULL,
    "display_name" VARCHAR(200),
    "model_metadata" JSONB NOT NULL DEFAULT '{}',
    "last_refreshed_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "agent_catalog_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "agent_catalog_custom_provider_needs_org"
        CHECK ("custom_provider_id" IS NULL OR "organization_id" IS NOT NULL),
    CONSTRAINT "agent_catalog_metadata_is_object" CHECK (jsonb_typeof("model_metadata") = 'object'),
    CONSTRAINT "agent_catalog_organization_id_fkey" FOREIGN KEY ("organization_id")
        REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "agent_model_access" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "workspace_id" UUID,
    "catalog_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "agent_model_access_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "agent_model_access_organization_id_fkey" FOREIGN KEY ("organization_id")
        REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "agent_model_access_catalog_id_fkey" FOREIGN KEY ("catalog_id")
        REFERENCES "agent_catalog"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "organization_setting" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "key" VARCHAR(120) NOT NULL,
    "value" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "organization_setting_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "organization_setting_organization_id_fkey" FOREIGN KEY ("organization_id")
        REFERENCES "organization"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "audit_event" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID,
    "workspace_id" UUID,
    "resource_type" VARCHAR(64) NOT NULL,
    "action" VARCHAR(32) NOT NULL,
    "resource_id" UUID,
    "status" "audit_status" NOT NULL,
    "error_code" VARCHAR(64),
    "actor_subject" VARCHAR(255) NOT NULL,
    "actor_type" "actor_type" NOT NULL,
    "request_id" VARCHAR(64),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "audit_event_pkey" PRIMARY KEY ("id")
);

-- Keys and indexes
CREATE INDEX "organization_created_at_id_idx" ON "organization"("created_at" DESC, "id" DESC);
CREATE UNIQUE INDEX "workspace_organization_id_id_key" ON "workspace"("organization_id", "id");
CREATE INDEX "workspace_organization_id_created_at_id_idx" ON "workspace"("organization_id", "created_at" DESC, "id" DESC);
CREATE UNIQUE INDEX "agent_custom_provider_organization_id_id_key" ON "agent_custom_provider"("organization_id", "id");
CREATE INDEX "agent_custom_provider_organization_id_created_at_id_idx" ON "agent_custom_provider"("organization_id", "created_at" DESC, "id" DESC);
-- One platform row per (provider, name), one org row per (org, provider, name), one row
-- per (org, custom provider, provider, name): NULLs compare equal.
CREATE UNIQUE INDEX "agent_catalog_identity_key" ON "agent_catalog"("organization_id", "custom_provider_id", "model_provider", "model_name") NULLS NOT DISTINCT;
CREATE INDEX "agent_catalog_custom_provider_id_idx" ON "agent_catalog"("custom_provider_id");
CREATE INDEX "agent_catalog_created_at_id_idx" ON "agent_catalog"("created_at" DESC, "id" DESC);
CREATE INDEX "agent_catalog_model_name_id_idx" ON "agent_catalog"("model_name", "id");
CREATE INDEX "agent_catalog_model_provider_model_name_id_idx" ON "agent_catalog"("model_provider", "model_name", "id");
CREATE INDEX "agent_catalog_model_metadata_idx" ON "agent_catalog" USING GIN ("model_metadata" jsonb_path_ops);
CREATE UNIQUE INDEX "agent_model_access_grant_key" ON "agent_model_access"("organization_id", "workspace_id", "catalog_id") NULLS NOT DISTINCT;
CREATE INDEX "agent_model_access_catalog_id_idx" ON "agent_model_access"("catalog_id");
CREATE INDEX "agent_model_access_workspace_id_idx" ON "agent_model_access"("workspace_id");
CREATE INDEX "agent_model_access_organization_id_created_at_id_idx" ON "agent_model_access"("organization_id", "created_at" DESC, "id" DESC);
CREATE UNIQUE INDEX "organization_setting_organization_id_key_key" ON "organization_setting"("organization_id", "key");
CREATE INDEX "audit_event_organization_id_created_at_id_idx" ON "audit_event"("organization_id", "created_at" DESC, "id" DESC);

-- Composite foreign keys: a catalog row's custom provider and a grant's workspace
-- must belong to the row's own organization.
ALTER TABLE "agent_catalog" ADD CONSTRAINT "agent_catalog_organization_id_custom_provider_id_fkey"
    FOREIGN KEY ("organization_id", "custom_provider_id")
    REFERENCES "agent_custom_provider"("organization_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "agent_model_access" ADD CONSTRAINT "agent_model_access_organization_id_workspace_id_fkey"
    FOREIGN KEY ("organization_id", "workspace_id")
    REFERENCES "workspace"("organization_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Privileges
GRANT USAGE ON SCHEMA public TO mcp_app, mcp_platform;
GRANT SELECT ON "organization" TO mcp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON "workspace", "agent_custom_provider", "agent_catalog",
    "agent_model_access", "organization_setting" TO mcp_app;
GRANT SELECT, INSERT ON "audit_event" TO mcp_app;
GRANT SELECT, INSERT, UPDATE ON "organization" TO mcp_platform;
GRANT SELECT, INSERT, UPDATE ON "agent_catalog" TO mcp_platform;
GRANT INSERT ON "audit_event" TO mcp_platform;

-- Row-level security. The tenant comes from app.current_org_id (and, for
-- workspace-bound tokens, app.current_workspace_id), set per transaction;
-- set_config(..., true) leaves '' behind after the transaction, hence NULLIF.
ALTER TABLE "organization" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "organization" FORCE ROW LEVEL SECURITY;
ALTER TABLE "workspace" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "workspace" FORCE ROW LEVEL SECURITY;
ALTER TABLE "agent_custom_provider" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "agent_custom_provider" FORCE ROW LEVEL SECURITY;
ALTER TABLE "agent_catalog" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "agent_catalog" FORCE ROW LEVEL SECURITY;
ALTER TABLE "agent_model_access" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "agent_model_access" FORCE ROW LEVEL SECURITY;
ALTER TABLE "organization_setting" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "organization_setting" FORCE ROW LEVEL SECURITY;
ALTER TABLE "audit_event" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "audit_event" FORCE ROW LEVEL SECURITY;

CREATE POLICY "organization_tenant" ON "organization" FOR SELECT TO mcp_app
    USING ("id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid);
CREATE POLICY "organization_platform" ON "organization" TO mcp_platform
    USING (true) WITH CHECK (true);

CREATE POLICY "workspace_tenant" ON "workspace" TO mcp_app
    USING ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid
       AND (NULLIF(current_setting('app.current_workspace_id', true), '') IS NULL
            OR "id" = NULLIF(current_setting('app.current_workspace_id', true), '')::uuid))
    WITH CHECK ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

CREATE POLICY "agent_custom_provider_tenant" ON "agent_custom_provider" TO mcp_app
    USING ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
    WITH CHECK ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

-- Tenants read their own rows and platform rows, and write only their own.
CREATE POLICY "agent_catalog_tenant_read" ON "agent_catalog" FOR SELECT TO mcp_app
    USING ("organization_id" IS NULL
        OR "organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid);
CREATE POLICY "agent_catalog_tenant_insert" ON "agent_catalog" FOR INSERT TO mcp_app
    WITH CHECK ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid);
CREATE POLICY "agent_catalog_tenant_update" ON "agent_catalog" FOR UPDATE TO mcp_app
    USING ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
    WITH CHECK ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid);
CREATE POLICY "agent_catalog_tenant_delete" ON "agent_catalog" FOR DELETE TO mcp_app
    USING ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid);
CREATE POLICY "agent_catalog_platform" ON "agent_catalog" TO mcp_platform
    USING ("organization_id" IS NULL) WITH CHECK ("organization_id" IS NULL);

CREATE POLICY "agent_model_access_tenant" ON "agent_model_access" TO mcp_app
    USING ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid
       AND (NULLIF(current_setting('app.current_workspace_id', true), '') IS NULL
            OR "workspace_id" IS NULL
            OR "workspace_id" = NULLIF(current_setting('app.current_workspace_id', true), '')::uuid))
    -- A grant may only name a catalog row the tenant can see (the subquery runs under RLS).
    WITH CHECK ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid
       AND EXISTS (SELECT 1 FROM "agent_catalog" c WHERE c."id" = "catalog_id"));

CREATE POLICY "organization_setting_tenant" ON "organization_setting" TO mcp_app
    USING ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
    WITH CHECK ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

CREATE POLICY "audit_event_tenant" ON "audit_event" TO mcp_app
    USING ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
    WITH CHECK ("organization_id" = NULLIF(current_setting('app.current_org_id', true), '')::uuid);
CREATE POLICY "audit_event_platform" ON "audit_event" FOR INSERT TO mcp_platform
    WITH CHECK (true);
