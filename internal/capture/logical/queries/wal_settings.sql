-- wal_settings: what logical decoding needs from the server's configuration.
SELECT current_setting('wal_level'),
       current_setting('max_replication_slots')::int,
       current_setting('max_wal_senders')::int
