-- The enqueueing functions of schema cachewarm, rendered by package jobcontract from its Go
-- constants and installed by every `cachewarm migrate` (CREATE OR REPLACE). Statements are
-- separated by "-- next" lines. Do not edit the rendered functions in the database: the next
-- migrate replaces them.

-- valid_tenant_id is the tenant id rule (cache.ParseTenant).
CREATE OR REPLACE FUNCTION cachewarm.valid_tenant_id(id text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(id ~ {{lit .TenantPattern}}, false)
$$;
-- next
CREATE OR REPLACE FUNCTION cachewarm.check_tenant_id(p_tenant_id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF NOT cachewarm.valid_tenant_id(p_tenant_id) THEN
        RAISE EXCEPTION 'invalid tenant id %: want 1-{{.MaxTenantLen}} characters from A-Z a-z 0-9 _ -', quote_literal(coalesce(p_tenant_id, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
-- next
CREATE OR REPLACE FUNCTION cachewarm.enqueue_dataset_warm(p_tenant_id text, p_datasets text[], p_reason text DEFAULT 'sql')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    unknown text;
    d text;
    read_committed boolean := current_setting('transaction_isolation') = 'read committed';
    inserted integer := 0;
BEGIN
    PERFORM cachewarm.check_tenant_id(p_tenant_id);
    IF p_datasets IS NULL THEN
        RAISE EXCEPTION 'no datasets given (NULL)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT x INTO unknown FROM unnest(p_datasets) AS x
    WHERE x IS NULL OR NOT EXISTS (SELECT 1 FROM cachewarm.datasets WHERE name = x) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown dataset %', coalesce(quote_literal(unknown), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'name datasets from cachewarm.datasets; NULL is not a dataset';
    END IF;
    FOR d IN SELECT DISTINCT x FROM unnest(p_datasets) AS x ORDER BY 1 LOOP
        IF read_committed THEN
            PERFORM 1 FROM cachewarm.river_job j
            WHERE j.state = 'available' AND j.queue = {{lit .QueueChange}} AND j.kind = {{lit .KindWarmDatasets}}
              AND j.scheduled_at <= clock_timestamp()
              AND j.args @> jsonb_build_object('tenant_id', p_tenant_id, 'datasets', jsonb_build_array(d))
            LIMIT 1
            FOR KEY SHARE OF j;
        ELSE
            PERFORM 1 FROM cachewarm.river_job j
            WHERE j.state = 'available' AND j.queue = {{lit .QueueChange}} AND j.kind = {{lit .KindWarmDatasets}}
              AND j.xmin = pg_current_xact_id()::xid
              AND j.args @> jsonb_build_object('tenant_id', p_tenant_id, 'datasets', jsonb_build_array(d))
            LIMIT 1;
        END IF;
        IF NOT FOUND THEN
            INSERT INTO cachewarm.river_job (args, kind, max_attempts, priority, queue)
            VALUES (jsonb_build_object('tenant_id', p_tenant_id, 'datasets', jsonb_build_array(d), 'reason', p_reason),
                    {{lit .KindWarmDatasets}}, {{.MaxAttempts}}, {{.ChangePriority}}, {{lit .QueueChange}});
            inserted := inserted + 1;
        END IF;
    END LOOP;
    IF inserted > 0 THEN
        PERFORM pg_notify({{lit .NotifyChannel}}, json_build_object('queue', {{lit .QueueChange}})::text);
    END IF;
    RETURN inserted;
END
$$;
-- next
CREATE OR REPLACE FUNCTION cachewarm.enqueue_warm(tenant_id text, phases text[] DEFAULT {{.Phases}})
RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    p_tenant_id ALIAS FOR $1;
    p_phases ALIAS FOR $2;
    ordered text[];
    bad text;
    wf bigint;
BEGIN
    PERFORM cachewarm.check_tenant_id(p_tenant_id);
    SELECT p INTO bad FROM unnest(p_phases) AS p WHERE p IS NULL OR p <> ALL({{.Phases}}) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown phase %: want one of {{.PhaseList}}', quote_literal(coalesce(bad, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ordered := ARRAY(SELECT p FROM unnest({{.Phases}}) WITH ORDINALITY AS o(p, n)
                     WHERE p = ANY(p_phases) ORDER BY n);
    IF cardinality(ordered) = 0 THEN
        RAISE EXCEPTION 'no phase given' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cachewarm.active_tenants() AS t(id) WHERE t.id = p_tenant_id) THEN
        RAISE EXCEPTION 'unknown tenant %: not an active tenant (tenants.sql)', quote_literal(p_tenant_id)
            USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO cachewarm.workflow_runs AS r (tenant_id, trigger, phases)
    VALUES (p_tenant_id, 'sql', ordered)
    ON CONFLICT (tenant_id) WHERE state IN ('queued', 'running') DO NOTHING
    RETURNING r.id INTO wf;
    IF wf IS NULL THEN
        SELECT r.id INTO wf FROM cachewarm.workflow_runs r
        WHERE r.tenant_id = p_tenant_id AND r.state IN ('queued', 'running');
        RETURN wf;
    END IF;
    INSERT INTO cachewarm.river_job (args, kind, max_attempts, priority, queue)
    VALUES (jsonb_build_object('workflow_id', wf, 'tenant_id', p_tenant_id, 'phase', ordered[1],
                               'next', to_jsonb(ordered[2:])),
            {{lit .KindWarmPhase}}, {{.MaxAttempts}},
            ({{.Priorities}})[array_position({{.Phases}}, ordered[1])], {{lit .QueueWarm}});
    PERFORM pg_notify({{lit .NotifyChannel}}, json_build_object('queue', {{lit .QueueWarm}})::text);
    RETURN wf;
END
$$;
-- next
CREATE OR REPLACE FUNCTION cachewarm.enqueue_warm_all() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    SELECT count(cachewarm.enqueue_warm(t.id))::integer INTO n FROM cachewarm.active_tenants() AS t(id);
    RETURN n;
END
$$;
-- next
CREATE OR REPLACE FUNCTION cachewarm.mark_changed(p_tenants text[], p_datasets text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    INSERT INTO cachewarm.dataset_versions AS v (tenant_id, dataset, version)
    SELECT tn, d, cachewarm.clock_version()
    FROM unnest(p_tenants) AS tn, unnest(p_datasets) AS d
    WHERE cachewarm.valid_tenant_id(tn)
    ORDER BY 1, 2 -- a fixed lock order: concurrent changes cannot deadlock here
    ON CONFLICT (tenant_id, dataset) DO UPDATE
        SET version = greatest(v.version + 1, excluded.version), changed_at = now();
    FOREACH t IN ARRAY p_tenants LOOP
        IF cachewarm.valid_tenant_id(t) THEN
            PERFORM cachewarm.enqueue_dataset_warm(t, p_datasets, 'change');
        END IF;
    END LOOP;
END
$$;
-- next
CREATE OR REPLACE FUNCTION cachewarm.collect_changes()
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
               cachewarm.valid_tenant_id(p.tenant) AS valid, min(p.at) AS at
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
-- next
