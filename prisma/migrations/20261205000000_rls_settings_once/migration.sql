-- The tenant policies read the transaction's organization and workspace as scalar
-- subqueries, which PostgreSQL evaluates once per statement (an InitPlan), instead of
-- calling current_setting() and parsing the UUID again for every row a statement
-- reads (0.1-0.3 ms of a catalog page's 1.1-1.9 ms in PostgreSQL, BENCHMARKS.md).
-- Who sees and writes which rows is unchanged.

ALTER POLICY "organization_tenant" ON "organization"
    USING ("id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));

ALTER POLICY "workspace_tenant" ON "workspace"
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND ((SELECT NULLIF(current_setting('app.current_workspace_id', true), '')) IS NULL
            OR "id" = (SELECT NULLIF(current_setting('app.current_workspace_id', true), '')::uuid)))
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));

ALTER POLICY "agent_custom_provider_tenant" ON "agent_custom_provider"
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));

ALTER POLICY "agent_catalog_tenant_read" ON "agent_catalog"
    USING ("organization_id" IS NULL
        OR "organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY "agent_catalog_tenant_insert" ON "agent_catalog"
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY "agent_catalog_tenant_update" ON "agent_catalog"
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY "agent_catalog_tenant_delete" ON "agent_catalog"
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));

ALTER POLICY "agent_model_access_tenant" ON "agent_model_access"
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND ((SELECT NULLIF(current_setting('app.current_workspace_id', true), '')) IS NULL
            OR "workspace_id" IS NULL
            OR "workspace_id" = (SELECT NULLIF(current_setting('app.current_workspace_id', true), '')::uuid)))
    -- A grant may only name a catalog row the tenant can see (the subquery runs under RLS).
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND EXISTS (SELECT 1 FROM "agent_catalog" c WHERE c."id" = "catalog_id"));

ALTER POLICY "organization_setting_tenant" ON "organization_setting"
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));

ALTER POLICY "audit_event_tenant" ON "audit_event"
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));

ALTER POLICY "change_event_tenant_read" ON "change_event"
    USING (("organization_id" IS NULL
            OR "organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid))
       AND ((SELECT NULLIF(current_setting('app.current_workspace_id', true), '')) IS NULL
            OR "workspace_id" IS NULL
            OR "workspace_id" = (SELECT NULLIF(current_setting('app.current_workspace_id', true), '')::uuid)));
ALTER POLICY "change_event_insert" ON "change_event"
    WITH CHECK ("organization_id" IS NOT DISTINCT FROM (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid));

ALTER POLICY "workspace_default_model_tenant" ON "workspace_default_model"
    USING ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND ((SELECT NULLIF(current_setting('app.current_workspace_id', true), '')) IS NULL
            OR "workspace_id" = (SELECT NULLIF(current_setting('app.current_workspace_id', true), '')::uuid)))
    WITH CHECK ("organization_id" = (SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid)
       AND ("catalog_id" IS NULL OR EXISTS (SELECT 1 FROM "agent_catalog" c WHERE c."id" = "catalog_id")));
