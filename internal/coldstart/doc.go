// Package coldstart notices that Redis came back empty (a restart without persistence,
// FLUSHALL or FLUSHDB of the worker's DB, a failover to an empty replica; on a cluster, any
// single master) and re-warms every active tenant, critical phase first.
//
// # Detection
//
// The [Detector] keeps a small sentinel key on every Redis master: [SentinelKey] on a single
// Redis; on a cluster, one key per master whose hash tag maps to a slot that master serves
// (found from CLUSTER SHARDS, recomputed every [TopologyTTL] and after an error). No dataset
// key pattern starts with "cachewarm:". Every check (Config.ColdCheck, default 1 s) is one
// pipelined EXISTS and DBSIZE per master. A missing sentinel alone proves nothing (someone
// may have deleted it, or an allkeys-* policy evicted it): the node must also be empty, or
// hold less than a tenth of the keys it held at the last good check, to count as a cold
// start; otherwise the sentinel is set again. A failover to a replica that kept the data, or
// a restart that loaded an RDB or AOF file, keeps the sentinel: no re-warm. A new install (no
// sentinel yet, and no phase ever warmed) is not a cold start either.
//
// Only the leader checks: the worker runs the detector while it holds the change
// collector's advisory lock (capture.Collector.Leading).
//
// # Re-warm and record
//
// A cold start starts a workflow of the default phases for every active tenant
// (workflows.Service.StartColdTx: a busy tenant keeps its workflow and gets the phases it
// already wrote re-warmed by dataset jobs) and records a row in cachewarm.cold_starts, in one
// transaction. The re-warm is done when none of its workflows and dataset jobs is left to
// run; until then [Reason] explains why /health says degraded.
package coldstart
