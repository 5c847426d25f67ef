-- +goose Up
-- +goose StatementBegin
-- enqueue_dataset_warm, revised. A change used to count on any re-warm job still `available`
-- for its tenant x dataset. But a worker could take that job after the trigger saw it waiting
-- and before the changing transaction committed; only the warm's first statement waiting on
-- the version row the change held locked kept it from reading the data without the change
-- (lost until the next refresh), and that wait held a worker for as long as the change stayed
-- open (the warm no longer waits: see internal/warm). Now a waiting job counts only if this
-- transaction locks it (FOR KEY SHARE: concurrent changes share the lock; River's fetch, FOR
-- UPDATE SKIP LOCKED, passes the job over until they end, so it reads data that includes
-- them). A job a worker took meanwhile fails the re-check (it is `running`), and the change
-- gets a job of its own.
CREATE OR REPLACE FUNCTION cachewarm.enqueue_dataset_warm(p_tenant_id text, p_datasets text[], p_reason text DEFAULT 'sql')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    unknown text;
    d text;
    -- Under REPEATABLE READ or SERIALIZABLE the snapshot can show as waiting a job a worker has
    -- since taken, and locking it would fail the caller's transaction: there, only a job this
    -- transaction queued itself (which no worker can see before it commits) counts.
    read_committed boolean := current_setting('transaction_isolation') = 'read committed';
    inserted integer := 0;
BEGIN
    PERFORM cachewarm.check_tenant_id(p_tenant_id);
    SELECT x INTO unknown FROM unnest(p_datasets) AS x
    WHERE NOT EXISTS (SELECT 1 FROM cachewarm.datasets WHERE name = x) LIMIT 1;
    IF unknown IS NOT NULL OR cardinality(p_datasets) IS NULL THEN
        RAISE EXCEPTION 'unknown dataset %', quote_literal(coalesce(unknown, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR d IN SELECT DISTINCT x FROM unnest(p_datasets) AS x ORDER BY 1 LOOP
        IF read_committed THEN
            PERFORM 1 FROM cachewarm.river_job j
            WHERE j.state = 'available' AND j.queue = 'change' AND j.kind = 'cachewarm.warm_datasets'
              AND j.scheduled_at <= clock_timestamp() -- not a failed job waiting out its retry backoff
              AND j.args @> jsonb_build_object('tenant_id', p_tenant_id, 'datasets', jsonb_build_array(d))
            LIMIT 1
            FOR KEY SHARE OF j;
        ELSE
            PERFORM 1 FROM cachewarm.river_job j
            WHERE j.state = 'available' AND j.queue = 'change' AND j.kind = 'cachewarm.warm_datasets'
              AND j.xmin = pg_current_xact_id()::xid
              AND j.args @> jsonb_build_object('tenant_id', p_tenant_id, 'datasets', jsonb_build_array(d))
            LIMIT 1;
        END IF;
        IF NOT FOUND THEN
            INSERT INTO cachewarm.river_job (args, kind, max_attempts, priority, queue)
            VALUES (jsonb_build_object('tenant_id', p_tenant_id, 'datasets', jsonb_build_array(d), 'reason', p_reason),
                    'cachewarm.warm_datasets', 8, 1, 'change');
            inserted := inserted + 1;
        END IF;
    END LOOP;
    -- Delivered at commit: a worker fetches at once the job queued here. Only then: NOTIFY
    -- takes a lock that serialises the commits of every notifying transaction, and notifying
    -- on every change capped a busy database at a few hundred changes a second (the fault
    -- suite's load test measured about 250-400/s against about 1,600/s on two cores). A
    -- waiting job this transaction only held locked is fetched at the next notification or
    -- poll (FetchPollInterval, 250 ms).
    IF inserted > 0 THEN
        PERFORM pg_notify('cachewarm.river_insert', '{"queue": "change"}');
    END IF;
    RETURN inserted;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- enqueue_warm, fixed: its parameter tenant_id made ON CONFLICT (tenant_id) ambiguous, so
-- every call failed with "column reference tenant_id is ambiguous". Names in the body now
-- resolve to columns (#variable_conflict use_column); the parameters keep their names, which
-- SQL callers may use (enqueue_warm(tenant_id => 't1')).
CREATE OR REPLACE FUNCTION cachewarm.enqueue_warm(tenant_id text, phases text[] DEFAULT ARRAY['critical', 'high', 'medium'])
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
    SELECT p INTO bad FROM unnest(p_phases) AS p WHERE p IS NULL OR p NOT IN ('critical', 'high', 'medium') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown phase %: want critical, high or medium', quote_literal(coalesce(bad, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ordered := ARRAY(SELECT p FROM unnest(ARRAY['critical', 'high', 'medium']) WITH ORDINALITY AS o(p, n)
                     WHERE p = ANY(p_phases) ORDER BY n);
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

-- +goose Down
-- enqueue_warm keeps its fixed body: the one it replaced failed on every call.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION cachewarm.enqueue_dataset_warm(p_tenant_id text, p_datasets text[], p_reason text DEFAULT 'sql')
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
