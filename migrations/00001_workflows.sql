-- +goose Up
-- Workflow runs: one row per tenant warm workflow (its phases chain as River jobs).
CREATE TABLE cachewarm.workflow_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     text        NOT NULL,
    trigger       text        NOT NULL,
    phases        text[]      NOT NULL,
    state         text        NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'completed', 'partial', 'failed', 'cancelled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    keys_written  bigint      NOT NULL DEFAULT 0,
    bytes_written bigint      NOT NULL DEFAULT 0,
    -- failures: [{"phase": ..., "dataset": ..., "error": ...}] of phases that exhausted retries.
    failures      jsonb       NOT NULL DEFAULT '[]'
);

-- At most one queued or running workflow per tenant: starting another is a no-op that returns
-- the active one. This is what keeps a burst of warm requests from stampeding the database.
CREATE UNIQUE INDEX workflow_runs_one_active ON cachewarm.workflow_runs (tenant_id)
    WHERE state IN ('queued', 'running');
CREATE INDEX workflow_runs_tenant_created ON cachewarm.workflow_runs (tenant_id, created_at DESC);
CREATE INDEX workflow_runs_created ON cachewarm.workflow_runs (created_at DESC);

-- One row per finished phase of a workflow.
CREATE TABLE cachewarm.workflow_phases (
    workflow_id   bigint      NOT NULL REFERENCES cachewarm.workflow_runs (id) ON DELETE CASCADE,
    phase         text        NOT NULL,
    state         text        NOT NULL CHECK (state IN ('completed', 'failed')),
    job_id        bigint      NOT NULL,
    -- next_job_id is the next phase's job, inserted by the transaction that wrote this row
    -- and completed job_id.
    next_job_id   bigint,
    attempts      integer     NOT NULL,
    queued_at     timestamptz NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    keys_written  bigint      NOT NULL DEFAULT 0,
    bytes_written bigint      NOT NULL DEFAULT 0,
    failures      jsonb       NOT NULL DEFAULT '[]',
    PRIMARY KEY (workflow_id, phase)
);

-- The data version of each tenant x dataset, for the stale-overwrite guard. Change triggers
-- bump it in the changing transaction; a warm reads it in the same snapshot as the data.
-- Versions are microseconds since the epoch (at least the previous version + 1), so they only
-- grow, even across a re-created database that still has keys in Redis.
CREATE TABLE cachewarm.dataset_versions (
    tenant_id  text        NOT NULL,
    dataset    text        NOT NULL,
    version    bigint      NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, dataset)
);

-- +goose StatementBegin
CREATE FUNCTION cachewarm.clock_version() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION cachewarm.clock_version();
DROP TABLE cachewarm.dataset_versions;
DROP TABLE cachewarm.workflow_phases;
DROP TABLE cachewarm.workflow_runs;
