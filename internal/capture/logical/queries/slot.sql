-- slot: replication slot $1 of this database: its plugin, whether a process streams it, how
-- much WAL it keeps (wal_status 'lost': invalidated), its confirmed position and its lag in
-- bytes behind the current WAL position. No row when it does not exist.
SELECT s.plugin,
       s.slot_type,
       d.datname = current_database(),
       s.active,
       coalesce(s.active_pid, 0),
       coalesce(s.wal_status, ''),
       coalesce(s.confirmed_flush_lsn::text, '0/0'),
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::int8, 0)
FROM pg_replication_slots s
LEFT JOIN pg_database d ON d.oid = s.datoid
WHERE s.slot_name = $1
