-- +goose Up
-- Cold starts: one row each time the leader found Redis (or one cluster master) back empty
-- (restart without persistence, FLUSHALL, failover to an empty replica) and re-warmed every
-- active tenant (internal/coldstart, docs/memory.md "Cold starts").
CREATE TABLE cachewarm.cold_starts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    detected_at      timestamptz NOT NULL DEFAULT now(),
    -- node names the Redis master(s) found empty (host:port, comma-separated).
    node             text        NOT NULL,
    -- keys_seen_before is the node's key count at the last good check (0: none seen by this
    -- worker, for example right after it started).
    keys_seen_before bigint      NOT NULL,
    -- tenants is how many tenants the re-warm covers.
    tenants          integer     NOT NULL,
    -- workflow_ids are the workflows of the re-warm, started or already active;
    -- job_ids the dataset re-warms queued for tenants whose active workflow had already
    -- written some phases. The re-warm is done when none of them is left to run.
    workflow_ids     bigint[]    NOT NULL DEFAULT '{}',
    job_ids          bigint[]    NOT NULL DEFAULT '{}',
    -- finished_at is set by the leader once the re-warm is done.
    finished_at      timestamptz
);

-- +goose Down
DROP TABLE cachewarm.cold_starts;
