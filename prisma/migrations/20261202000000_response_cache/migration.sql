-- The response cache keeps an answer only while no change of its organization (or of
-- the platform catalog) has committed since the answer was computed. It remembers the
-- snapshot it took just before computing the answer; this function, one statement per
-- request, says whether any such change has become visible since that snapshot and
-- returns the current one. Events below the snapshot's xmin were visible in it, so
-- only the events from there on are looked at (the (organization_id, xid, id) index).
--
-- It runs as mcp_feed (SECURITY DEFINER), which may read every event, so that the
-- service can call it outside a transaction, whatever role it connects as; it reveals
-- nothing but a boolean and the snapshot.
CREATE FUNCTION "change_feed_changed_since"(organization UUID, since pg_snapshot)
RETURNS TABLE ("snapshot" TEXT, "changed" BOOLEAN)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT pg_current_snapshot()::text,
         since IS NOT NULL AND (
           EXISTS (SELECT 1 FROM public.change_event e
                    WHERE e.organization_id = organization AND e.xid >= pg_snapshot_xmin(since)
                      AND NOT pg_visible_in_snapshot(e.xid, since))
           OR EXISTS (SELECT 1 FROM public.change_event e
                       WHERE e.organization_id IS NULL AND e.xid >= pg_snapshot_xmin(since)
                         AND NOT pg_visible_in_snapshot(e.xid, since)))
$$;
ALTER FUNCTION "change_feed_changed_since"(UUID, pg_snapshot) OWNER TO mcp_feed;
REVOKE ALL ON FUNCTION "change_feed_changed_since"(UUID, pg_snapshot) FROM PUBLIC;
DO $$
BEGIN
  EXECUTE format('GRANT EXECUTE ON FUNCTION "change_feed_changed_since"(UUID, pg_snapshot) TO %I', current_user);
END
$$;
