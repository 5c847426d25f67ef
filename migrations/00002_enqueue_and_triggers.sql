-- +goose Up
-- The dataset catalog, as the Go binary knows it; `cachewarm migrate` rewrites it each run, so
-- SQL callers and the change triggers agree with the binary on names, phases and tables.
CREATE TABLE cachewarm.datasets (
    name   text PRIMARY KEY,
    phase  text   NOT NULL CHECK (phase IN ('critical', 'high', 'medium')),
    tables text[] NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION cachewarm.check_tenant_id(p_tenant_id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_tenant_id IS NULL OR p_tenant_id !~ '^[A-Za-z0-9_-]{1,64}$' THEN
        RAISE EXCEPTION 'invalid tenant id %: want 1-64 characters from A-Z a-z 0-9 _ -', quote_literal(coalesce(p_tenant_id, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- enqueue_dataset_warm queues one re-warm job per dataset for a tenant, unless one is already
-- waiting to start (a job that is running does not count: it may have read its data before
-- this change committed, so the change gets a job of its own). It wakes the workers at once.
CREATE FUNCTION cachewarm.enqueue_dataset_warm(p_tenant_id text, p_datasets text[], p_reason text DEFAULT 'sql')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    unknown text;
    inserted integer;
BEGIN
    PERFORM cachewarm.check_tenant_id(p_tenant_id);
    SELECT d INTO unknown FROM unnest(p_datasets) AS d
    WHERE NOT EXISTS (SELECT 1 FROM cachewarm.datasets WHERE name = d) LIMIT 1;
    IF unknown IS NOT NULL OR cardinality(p_datasets) IS NULL THEN
        RAISE EXCEPTION 'unknown dataset %', quote_literal(coalesce(unknown, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO cachewarm.river_job (args, kind, max_attempts, priority, queue)
    SELECT jsonb_build_object('tenant_id', p_tenant_id, 'datasets', jsonb_build_array(d), 'reason', p_reason),
           'cachewarm.warm_datasets', 8, 1, 'change'
    FROM (SELECT DISTINCT d FROM unnest(p_datasets) AS d) AS ds
    WHERE NOT EXISTS (
        SELECT 1 FROM cachewarm.river_job j
        WHERE j.kind = 'cachewarm.warm_datasets' AND j.state IN ('available', 'scheduled')
          AND j.args @> jsonb_build_object('tenant_id', p_tenant_id, 'datasets', jsonb_build_array(d)));
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted > 0 THEN
        PERFORM pg_notify('cachewarm.river_insert', '{"queue": "change"}');
    END IF;
    RETURN inserted;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- enqueue_warm starts a warm workflow for a tenant (phases in workflow order) and returns its
-- id; if the tenant already has a queued or running workflow, it returns that one's id.
CREATE FUNCTION cachewarm.enqueue_warm(tenant_id text, phases text[] DEFAULT ARRAY['critical', 'high', 'medium'])
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    p_tenant_id ALIAS FOR tenant_id;
    ordered text[];
    bad text;
    wf bigint;
BEGIN
    PERFORM cachewarm.check_tenant_id(p_tenant_id);
    SELECT p INTO bad FROM unnest(phases) AS p WHERE p IS NULL OR p NOT IN ('critical', 'high', 'medium') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown phase %: want critical, high or medium', quote_literal(coalesce(bad, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ordered := ARRAY(SELECT p FROM unnest(ARRAY['critical', 'high', 'medium']) WITH ORDINALITY AS o(p, n)
                     WHERE p = ANY(phases) ORDER BY n);
    IF cardinality(ordered) = 0 THEN
        RAISE EXCEPTION 'no phase given' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = p_tenant_id AND t.active) THEN
        RAISE EXCEPTION 'unknown tenant %: not in the tenants table, or not active', quote_literal(p_tenant_id)
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
            'cachewarm.warm_phase', 8, array_position(ARRAY['critical', 'high', 'medium'], ordered[1]), 'warm');
    PERFORM pg_notify('cachewarm.river_insert', '{"queue": "warm"}');
    RETURN wf;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- enqueue_warm_all starts a workflow of every phase for every active tenant and returns how
-- many tenants it covered (those with a workflow already active keep it).
CREATE FUNCTION cachewarm.enqueue_warm_all() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    -- plpgsql, not sql: the ERP's tenants table may not exist yet when this is created.
    SELECT count(cachewarm.enqueue_warm(t.id))::integer INTO n FROM tenants t WHERE t.active;
    RETURN n;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- mark_changed bumps the data version of each tenant x dataset (in the changing transaction,
-- so a warm that reads the data reads the matching version) and queues their re-warms.
CREATE FUNCTION cachewarm.mark_changed(p_tenants text[], p_datasets text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    INSERT INTO cachewarm.dataset_versions AS v (tenant_id, dataset, version)
    SELECT tn, d, cachewarm.clock_version()
    FROM unnest(p_tenants) AS tn, unnest(p_datasets) AS d
    WHERE tn ~ '^[A-Za-z0-9_-]{1,64}$'
    ORDER BY 1, 2 -- a fixed lock order: concurrent changes cannot deadlock here
    ON CONFLICT (tenant_id, dataset) DO UPDATE
        SET version = greatest(v.version + 1, excluded.version), changed_at = now();
    FOREACH t IN ARRAY p_tenants LOOP
        IF t ~ '^[A-Za-z0-9_-]{1,64}$' THEN
            PERFORM cachewarm.enqueue_dataset_warm(t, p_datasets, 'change');
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- source_changed is the statement-level change trigger on a source table. TG_ARGV[0] is the
-- table's tenant column; the rest are the datasets the table feeds. It reads the transition
-- tables once, so a 10,000-row statement costs one job per tenant x dataset, not 10,000.
CREATE FUNCTION cachewarm.source_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    col text := TG_ARGV[0];
    datasets text[] := TG_ARGV[1:TG_NARGS - 1];
    tenants text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('SELECT array_agg(DISTINCT %I::text) FROM new_rows', col) INTO tenants;
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT array_agg(DISTINCT %I::text) FROM old_rows', col) INTO tenants;
    ELSE
        EXECUTE format('SELECT array_agg(DISTINCT t) FROM (SELECT %1$I::text AS t FROM new_rows UNION SELECT %1$I::text FROM old_rows) AS s', col) INTO tenants;
    END IF;
    IF tenants IS NOT NULL THEN
        PERFORM cachewarm.mark_changed(tenants, datasets);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- job_status shows cachewarm's jobs for inspecting retries: tenant, phase or dataset, state,
-- attempt, max attempts, last error, scheduled at.
CREATE VIEW cachewarm.job_status AS
SELECT j.id AS job_id,
       j.kind,
       j.args ->> 'tenant_id' AS tenant_id,
       coalesce(j.args ->> 'phase',
                (SELECT string_agg(d, ',') FROM jsonb_array_elements_text(j.args -> 'datasets') AS d)) AS phase_or_dataset,
       (j.args ->> 'workflow_id')::bigint AS workflow_id,
       j.state::text AS state,
       j.attempt,
       j.max_attempts,
       j.errors[array_length(j.errors, 1)] ->> 'error' AS last_error,
       j.scheduled_at,
       j.created_at,
       j.finalized_at
FROM cachewarm.river_job j
WHERE j.kind LIKE 'cachewarm.%';

-- +goose Down
DROP VIEW cachewarm.job_status;
DROP FUNCTION cachewarm.source_changed();
DROP FUNCTION cachewarm.mark_changed(text[], text[]);
DROP FUNCTION cachewarm.enqueue_warm_all();
DROP FUNCTION cachewarm.enqueue_warm(text, text[]);
DROP FUNCTION cachewarm.enqueue_dataset_warm(text, text[], text);
DROP FUNCTION cachewarm.check_tenant_id(text);
DROP TABLE cachewarm.datasets;
