-- +goose Up
-- Change capture that costs the ERP's writers almost nothing (docs/change-capture.md).
--
-- Inside the writer's transaction a statement-level trigger only appends (table, tenant) rows
-- to cachewarm.changes: no NOTIFY (it serialises every notifying commit on one lock), no
-- update of a shared row (writers of one tenant would wait for each other), no job insert.
-- A collector in the workers empties the table in batches: in the transaction that deletes
-- the rows, it bumps the data versions and queues the re-warm jobs, so a change is neither
-- lost nor done twice.

-- changes is appended to by the change triggers and emptied whole by the collector: no
-- index, no key, no sequence on the writer's path.
CREATE TABLE cachewarm.changes (
    relid     oid NOT NULL,
    tenant_id text, -- NULL: every tenant (a TRUNCATE)
    -- changed_at is when the changing statement started, for the capture delay metric.
    changed_at timestamptz NOT NULL DEFAULT statement_timestamp()
);

-- capture_tables maps each captured table to its tenant column and the datasets it feeds;
-- `cachewarm migrate` rewrites it from the dataset files on every run.
CREATE TABLE cachewarm.capture_tables (
    relid         oid PRIMARY KEY,
    name          text   NOT NULL,
    tenant_column text   NOT NULL,
    datasets      text[] NOT NULL
);

-- +goose StatementBegin
-- collect_changes consumes every change committed so far: it deletes the rows, maps each
-- (table, tenant) to the datasets the table feeds (a TRUNCATE to every active tenant), bumps
-- those tenant x dataset versions and queues their re-warm jobs (mark_changed), all in the
-- caller's transaction. It returns each tenant with its datasets and its oldest change; a
-- tenant id that is not valid is returned with valid = false and is neither bumped nor queued.
CREATE FUNCTION cachewarm.collect_changes()
RETURNS TABLE (tenant_id text, datasets text[], valid boolean, changed_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    r record;
BEGIN
    FOR r IN
        WITH gone AS (
            DELETE FROM cachewarm.changes c RETURNING c.relid, c.tenant_id, c.changed_at
        ), touched AS (
            SELECT g.relid, g.tenant_id, min(g.changed_at) AS at FROM gone g GROUP BY g.relid, g.tenant_id
        ), pairs AS (
            SELECT t.tenant_id AS tenant, d.name AS dataset, t.at
            FROM touched t
            JOIN cachewarm.capture_tables ct ON ct.relid = t.relid
            CROSS JOIN LATERAL unnest(ct.datasets) AS d(name)
            WHERE t.tenant_id IS NOT NULL
            UNION ALL
            SELECT a.id, d.name, t.at
            FROM touched t
            JOIN cachewarm.capture_tables ct ON ct.relid = t.relid
            CROSS JOIN LATERAL unnest(ct.datasets) AS d(name)
            CROSS JOIN LATERAL cachewarm.active_tenants() AS a(id)
            WHERE t.tenant_id IS NULL
        )
        SELECT p.tenant, array_agg(DISTINCT p.dataset ORDER BY p.dataset) AS datasets,
               coalesce(p.tenant ~ '^[A-Za-z0-9_-]{1,64}$', false) AS valid, min(p.at) AS at
        FROM pairs p
        GROUP BY p.tenant
        ORDER BY p.tenant
    LOOP
        IF r.valid THEN
            PERFORM cachewarm.mark_changed(ARRAY[r.tenant], r.datasets);
        END IF;
        tenant_id := r.tenant;
        datasets := r.datasets;
        valid := r.valid;
        changed_at := r.at;
        RETURN NEXT;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION cachewarm.collect_changes();
DROP TABLE cachewarm.capture_tables;
DROP TABLE cachewarm.changes;
