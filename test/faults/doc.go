// Package faults is cachewarm's fault-injection suite: each test causes one fault for real
// against real processes (a `cachewarm worker` child process built from this module, a
// PostgreSQL database and a Redis server of the test's own) and asserts that nothing was lost.
//
//   - a worker killed with SIGKILL mid-warm (TestWorkerKilledMidWarm)
//   - Redis stopped for 20 seconds mid-warm (TestRedisOutageMidWarm)
//   - the worker's PostgreSQL connections terminated mid-warm (TestPostgresConnectionsKilled)
//   - FLUSHDB and evicted version keys (TestFlushedRedisIsRestored)
//   - SIGTERM mid-warm (TestGracefulShutdownReturnsJobs)
//   - bursts of API requests and 1,000 source changes a second (TestLoad)
//   - passwords kept out of logs, errors, /health and status; Redis with a password and over
//     TLS (TestSecretsNeverShown, TestRedisTLSWithPassword)
//
// The tests print what the system did and how long it took to recover (run with -v to see
// it). They need PostgreSQL, Redis on its usual port (see package testenv) and the
// redis-server binary, which the Redis tests start on ports of their own: the shared server is
// never stopped or flushed. TestMain builds ./cmd/cachewarm once, with the go command.
//
// Environment knobs: CACHEWARM_FAULTS_REDIS_OUTAGE (default 20s) and
// CACHEWARM_FAULTS_LOAD_DURATION (default 12s; the minute with 1m) lengthen the
// faults; CACHEWARM_TEST_LOGS=1 prints every child process's output, not only on failure.
package faults
