-- +goose Up
-- The active tenants come from the datasets directory's tenants.sql: `cachewarm migrate`
-- replaces active_tenants() with its query on every run. Until then it reads the demo schema's
-- tenants table, as before.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION cachewarm.active_tenants() RETURNS SETOF text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT t.id::text FROM tenants t WHERE t.active;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
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
            'cachewarm.warm_phase', 8, array_position(ARRAY['critical', 'high', 'medium'], ordered[1]), 'warm');
    PERFORM pg_notify('cachewarm.river_insert', '{"queue": "warm"}');
    RETURN wf;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION cachewarm.enqueue_warm_all() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    SELECT count(cachewarm.enqueue_warm(t.id))::integer INTO n FROM cachewarm.active_tenants() AS t(id);
    RETURN n;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- enqueue_warm and enqueue_warm_all keep reading active_tenants(), which stays.
