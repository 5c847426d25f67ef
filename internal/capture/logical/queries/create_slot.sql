-- create_slot: a logical replication slot $1 decoding with pgoutput, from now on.
SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')
