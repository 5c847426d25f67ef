// Package logical is cachewarm's logical change capture (CACHEWARM_CHANGE_CAPTURE=logical):
// it reads the source tables' changes from PostgreSQL's WAL through a logical replication slot,
// so that the ERP's own transactions run no trigger and pay nothing beyond the WAL they write.
//
// # Setup
//
// [Setup] (run by `cachewarm migrate`) refuses a server without wal_level = logical, checks
// that every table's replica identity carries its tenant column (so that a DELETE says which
// tenant it touched), keeps the publication [PublicationName] listing exactly the captured
// tables, and creates the slot [SlotName] (pgoutput) when it is missing. [CheckWALLevel] is the
// worker's start check.
//
// # Streaming
//
// A [Streamer] (run on the leader only: one process at a time can stream a slot) reads the slot
// with pgoutput protocol version 1, which sends each transaction whole at its commit. It maps
// every row of a captured table to a [Change] (table, tenant): an INSERT to the new row's
// tenant, an UPDATE to the new row's and, when it moved, the old row's tenant, a DELETE to the
// old row's tenant, a TRUNCATE to every tenant of the table. Changes are deduplicated over a
// batch of commits (those of a Config.BatchWindow when commits come faster than one a window,
// else the one) and handed to the [Sink]; only once the Sink returned nil is the batch's end
// position confirmed to PostgreSQL. So a
// change is never lost: after an error, a restart of PostgreSQL, a stop or a crash of the
// worker, streaming resumes from the last confirmed position and the unconfirmed changes come
// again (at least once).
//
// While no transaction is open and nothing waits for the Sink, the position of a keepalive is
// confirmed too: that WAL held no change of a captured table (other tables, cachewarm's own
// writes), and the slot must not keep it.
//
// # Lost slots
//
// PostgreSQL invalidates a slot that holds more WAL than max_slot_wal_keep_size allows, and an
// operator may drop it. The Streamer then drops what is left, creates the slot again, logs why,
// and calls Config.OnSlotLost, which re-warms everything: the changes in between are gone.
// [Lag] and [Inspect] report the slot's state for /metrics and `status`.
package logical
