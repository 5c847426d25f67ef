-- +goose Up
-- Memory budget (docs/memory.md): a phase the budget could not fit is recorded as skipped,
-- with why; the workflow then ends partial.
ALTER TABLE cachewarm.workflow_phases DROP CONSTRAINT workflow_phases_state_check;
ALTER TABLE cachewarm.workflow_phases ADD CONSTRAINT workflow_phases_state_check
    CHECK (state IN ('completed', 'failed', 'skipped'));
-- skipped_at is set when the budget removed a written phase to make room for another tenant.
ALTER TABLE cachewarm.workflow_phases ADD COLUMN skip_reason text, ADD COLUMN skipped_at timestamptz;

-- One row per warm (what `cachewarm warm --wait` waits for): Redis's evicted_keys counter when
-- it started and when it ended, and the workflows it started.
CREATE TABLE cachewarm.warms (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger       text        NOT NULL,
    workflow_ids  bigint[]    NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    evicted_start bigint      NOT NULL,
    evicted_end   bigint
);

-- Predicted demand (docs/memory.md): how much each tenant's critical keys were read since
-- they were written, sampled by the leader. Higher is more demanded.
CREATE TABLE cachewarm.tenant_demand (
    tenant_id  text             PRIMARY KEY,
    score      double precision NOT NULL,
    sampled_at timestamptz      NOT NULL
);

-- +goose Down
DROP TABLE cachewarm.tenant_demand;
DROP TABLE cachewarm.warms;
ALTER TABLE cachewarm.workflow_phases DROP COLUMN skip_reason, DROP COLUMN skipped_at;
DELETE FROM cachewarm.workflow_phases WHERE state = 'skipped';
ALTER TABLE cachewarm.workflow_phases DROP CONSTRAINT workflow_phases_state_check;
ALTER TABLE cachewarm.workflow_phases ADD CONSTRAINT workflow_phases_state_check
    CHECK (state IN ('completed', 'failed'));
