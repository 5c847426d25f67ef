-- +goose Up
-- What `cachewarm status --failed` and GET /api/cache/workflows?failed=true ask: the newest
-- workflows that did not complete, for every tenant or for one. Without these, a list of
-- failures read the whole table newest first through workflow_runs_created when few had
-- failed (most of 500k rows per request).
CREATE INDEX workflow_runs_unsuccessful ON cachewarm.workflow_runs (created_at DESC, id DESC)
    WHERE state IN ('partial', 'failed', 'cancelled');
CREATE INDEX workflow_runs_tenant_unsuccessful ON cachewarm.workflow_runs (tenant_id, created_at DESC, id DESC)
    WHERE state IN ('partial', 'failed', 'cancelled');

-- Retention (CACHEWARM_WORKFLOW_RETENTION): the reaper deletes finished runs by age, oldest
-- first, in batches.
CREATE INDEX workflow_runs_finished ON cachewarm.workflow_runs (finished_at)
    WHERE state NOT IN ('queued', 'running');

-- +goose StatementBegin
-- enqueue_dataset_warm, revised again: a NULL among the datasets (ARRAY[NULL]) passed the
-- check, as the unknown name it found was NULL itself, and queued a job that failed all eight
-- attempts. Every element must now be a known dataset name. The rest is 00003's body.
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
            WHERE j.state = 'available' AND j.queue = 'change' AND j.kind = 'cachewarm.warm_datasets'
              AND j.scheduled_at <= clock_timestamp()
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
    IF inserted > 0 THEN
        PERFORM pg_notify('cachewarm.river_insert', '{"queue": "change"}');
    END IF;
    RETURN inserted;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- enqueue_dataset_warm keeps its revised body: the one it replaced queued jobs bound to fail.
DROP INDEX cachewarm.workflow_runs_finished;
DROP INDEX cachewarm.workflow_runs_tenant_unsuccessful;
DROP INDEX cachewarm.workflow_runs_unsuccessful;
