-- drop_slot: drop replication slot $1 (it must not be active).
SELECT pg_drop_replication_slot($1)
