// Package config reads cachewarm's settings from the environment (the README's Configuration names, kept from
// the original design), validates them, and builds the database and Redis clients from them.
package config

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"
)

// Defaults reach the local services.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRedisAddr   = "127.0.0.1:6379"
	DefaultHTTPAddr    = ":8080"
)

// Default refresh-ahead schedules: each phase is re-warmed at a quarter of its TTL, so a key
// nobody changes is renewed three times before it could lapse.
const (
	DefaultRefreshCritical = "@every 6h"  // TTL 24 h
	DefaultRefreshHigh     = "@every 3h"  // TTL 12 h
	DefaultRefreshMedium   = "@every 90m" // TTL 6 h
)

// DefaultWorkflowRetention is how long finished workflow runs are kept.
const DefaultWorkflowRetention = 7 * 24 * time.Hour

// DefaultJobTimeout bounds one attempt of a phase job: a phase of one tenant writes a few
// thousand keys in well under a second, so a minute is ample.
const DefaultJobTimeout = time.Minute

// DefaultChangePoll is how often the change collector looks for changes by default: a read
// of an empty table costs microseconds, and the wait it adds averages half of it.
const DefaultChangePoll = 5 * time.Millisecond

// DefaultColdCheck is how often the leader looks for a Redis that came back empty by default
// (one pipelined EXISTS and DBSIZE per Redis master).
const DefaultColdCheck = 500 * time.Millisecond

// DefaultDemandSample is how often the leader samples the tenants' predicted demand by default.
const DefaultDemandSample = time.Minute

// rescueMargin is how much longer than the job timeout a job may stay running before it is
// rescued as stuck (see Config.RescueAfter).
const rescueMargin = 15 * time.Second

// Config is cachewarm's validated configuration.
type Config struct {
	// DatabaseURL is the PostgreSQL connection string (DATABASE_URL).
	DatabaseURL string
	// Redis describes how to reach Redis.
	Redis Redis
	// WarmingEnabled turns the startup warm and the refresh-ahead schedules on
	// (CACHE_WARMING_ENABLED, default true).
	WarmingEnabled bool
	// StartupWarm, with WarmingEnabled, warms every active tenant when the worker starts
	// (CACHEWARM_STARTUP_WARM, default true). In a fleet of workers, turning it off on all but
	// one keeps a rolling restart from warming every tenant once per worker, while every
	// worker keeps the refresh-ahead schedules (whichever is elected leader enqueues them).
	StartupWarm bool
	// Phase3Enabled turns the medium phase on (CACHE_WARMING_PHASE3_ENABLED, default false).
	Phase3Enabled bool
	// RefreshCritical, RefreshHigh and RefreshMedium are the refresh-ahead schedules in
	// robfig/cron syntax (CACHE_REFRESH_CRITICAL, ...).
	RefreshCritical, RefreshHigh, RefreshMedium string
	// ValueFormat is how values are stored (CACHE_VALUE_FORMAT: json or keyv).
	ValueFormat cache.Format
	// L1Channel is the pub/sub channel the worker announces its writes on, for the L1 tier of
	// applications using package cache (CACHEWARM_L1_CHANNEL, default
	// cache.DefaultInvalidationChannel); it must match their L1Options.Channel.
	L1Channel string
	// HTTPAddr is the HTTP server's listen address (HTTP_ADDR, default :8080).
	HTTPAddr string
	// APIToken is the bearer token mutations need (CACHEWARM_API_TOKEN); empty means loopback
	// clients only.
	APIToken string
	// DatasetsDir is the directory of dataset files (CACHEWARM_DATASETS_DIR); empty means the
	// demo datasets built into the binary.
	DatasetsDir string
	// HashTags wraps tenant ids in Redis Cluster hash tags in keys (CACHEWARM_KEY_HASH_TAGS).
	HashTags bool
	// Workers is how many warm jobs one process runs at once (CACHEWARM_WORKERS, default 8).
	Workers int
	// ChangeWorkers is how many change-driven re-warm jobs one process runs at once
	// (CACHEWARM_CHANGE_WORKERS, default 4).
	ChangeWorkers int
	// ShutdownTimeout bounds a graceful stop (CACHEWARM_SHUTDOWN_TIMEOUT, default 30s): the
	// process has exited by then, running jobs cancelled and back in the queue.
	ShutdownTimeout time.Duration
	// JobTimeout bounds one attempt of a phase or refresh job (CACHEWARM_JOB_TIMEOUT, default
	// 1m); a dataset re-warm job gets half of it.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before the elected leader's rescuer
	// treats its worker as dead and retries it (CACHEWARM_RESCUE_AFTER, default JobTimeout +
	// 15s, at least JobTimeout: a job still within its timeout is never rescued). River's
	// rescuer looks every 30 s (not configurable in River v0.51) and a dead leader's role
	// passes to another worker within about 15 s, overlapping that wait, so a killed worker's
	// jobs run again within RescueAfter + 30 s: 105 s, under two minutes, with the defaults
	// (the fault tests set 4 s and 5 s).
	RescueAfter time.Duration
	// ChangeCapture is how changes are seen (CACHEWARM_CHANGE_CAPTURE): "triggers" (the
	// default, any PostgreSQL) or "logical" (a replication slot; wal_level=logical).
	ChangeCapture string
	// ChangePoll is how often the change collector looks for changes the triggers appended
	// (CACHEWARM_CHANGE_POLL, default 5ms): half of it is the average wait a change adds.
	ChangePoll time.Duration
	// ColdCheck is how often the leader checks that Redis did not come back empty
	// (CACHEWARM_COLD_CHECK, default 500ms; "off" gives zero: no cold detection).
	ColdCheck time.Duration
	// WorkflowRetention is how long a finished workflow run stays in workflow_runs (and
	// status, /api/cache/workflows) before the reaper deletes it
	// (CACHEWARM_WORKFLOW_RETENTION, default 168h: a week).
	WorkflowRetention time.Duration
	// MemoryBudget keeps the warm's writes within bytes or a percentage of Redis's maxmemory
	// (CACHEWARM_MEMORY_BUDGET, default 80%; docs/memory.md).
	MemoryBudget budget.Limit
	// DemandSample is how often the leader samples the tenants' predicted demand
	// (CACHEWARM_DEMAND_SAMPLE, default 1m; 0 when set to off; docs/memory.md).
	DemandSample time.Duration
}

// Redis is where and how to reach Redis.
type Redis struct {
	// URL is REDIS_URL (redis:// or rediss://), if set.
	URL string
	// Addr, DB and Password come from REDIS_HOST, REDIS_PORT, REDIS_DB and REDIS_PASSWORD when
	// REDIS_URL is not set.
	Addr     string
	DB       int
	Password string
	// ClusterAddrs, from REDIS_CLUSTER_ADDRS, switches to Redis Cluster: the host:port of
	// each seed node.
	ClusterAddrs []string
	// ClusterURL is the first REDIS_CLUSTER_ADDRS entry written as a redis:// or rediss://
	// URL, if any: its user, password and TLS apply to every node (they must agree).
	ClusterURL string
	// TLSCAFile, from REDIS_TLS_CA_FILE, is a PEM file of the certificate authorities that
	// rediss:// servers are verified against (instead of the system's).
	TLSCAFile string
}

// Load reads the configuration through lookup (os.LookupEnv in main) and validates it. Every
// problem is reported, each naming its variable; no password appears in an error.
func Load(lookup func(string) (string, bool)) (Config, error) {
	e := &envReader{lookup: lookup}
	c := Config{
		DatabaseURL:       cmp.Or(e.get("DATABASE_URL"), DefaultDatabaseURL),
		WarmingEnabled:    e.boolean("CACHE_WARMING_ENABLED", true),
		StartupWarm:       e.boolean("CACHEWARM_STARTUP_WARM", true),
		Phase3Enabled:     e.boolean("CACHE_WARMING_PHASE3_ENABLED", false),
		RefreshCritical:   e.schedule("CACHE_REFRESH_CRITICAL", DefaultRefreshCritical),
		RefreshHigh:       e.schedule("CACHE_REFRESH_HIGH", DefaultRefreshHigh),
		RefreshMedium:     e.schedule("CACHE_REFRESH_MEDIUM", DefaultRefreshMedium),
		HTTPAddr:          cmp.Or(e.get("HTTP_ADDR"), DefaultHTTPAddr),
		L1Channel:         cmp.Or(e.get("CACHEWARM_L1_CHANNEL"), cache.DefaultInvalidationChannel),
		APIToken:          e.get("CACHEWARM_API_TOKEN"),
		DatasetsDir:       e.get("CACHEWARM_DATASETS_DIR"),
		HashTags:          e.boolean("CACHEWARM_KEY_HASH_TAGS", false),
		Workers:           e.positive("CACHEWARM_WORKERS", 8),
		ChangeWorkers:     e.positive("CACHEWARM_CHANGE_WORKERS", 4),
		ShutdownTimeout:   e.duration("CACHEWARM_SHUTDOWN_TIMEOUT", 30*time.Second),
		JobTimeout:        e.duration("CACHEWARM_JOB_TIMEOUT", DefaultJobTimeout),
		ChangeCapture:     e.oneOf("CACHEWARM_CHANGE_CAPTURE", "triggers", "logical"),
		ChangePoll:        e.duration("CACHEWARM_CHANGE_POLL", DefaultChangePoll),
		WorkflowRetention: e.duration("CACHEWARM_WORKFLOW_RETENTION", DefaultWorkflowRetention),
		Redis:             e.redis(),
	}
	if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
		e.bad("DATABASE_URL", "%s", dsnUnparseable(err))
	}
	var err error
	if c.ValueFormat, err = cache.ParseFormat(e.get("CACHE_VALUE_FORMAT")); err != nil {
		e.bad("CACHE_VALUE_FORMAT", "%v", err)
	}
	c.RescueAfter = e.duration("CACHEWARM_RESCUE_AFTER", c.JobTimeout+rescueMargin)
	if c.MemoryBudget, err = budget.ParseLimit(e.get("CACHEWARM_MEMORY_BUDGET")); err != nil {
		e.bad("CACHEWARM_MEMORY_BUDGET", "%v", err)
	}
	c.DemandSample = e.durationOrOff("CACHEWARM_DEMAND_SAMPLE", DefaultDemandSample)
	c.ColdCheck = e.durationOrOff("CACHEWARM_COLD_CHECK", DefaultColdCheck)
	if c.RescueAfter < c.JobTimeout {
		e.bad("CACHEWARM_RESCUE_AFTER", "%s is shorter than the job timeout %s (CACHEWARM_JOB_TIMEOUT): running jobs would be rescued as stuck", c.RescueAfter, c.JobTimeout)
	}
	if len(e.errs) > 0 {
		return Config{}, fmt.Errorf("invalid configuration: %w", errors.Join(e.errs...))
	}
	return c, nil
}

// envReader reads settings through lookup and collects every problem, each naming its
// variable, so that Load reports them all at once.
type envReader struct {
	lookup func(string) (string, bool)
	errs   []error
}

// get returns the variable's value, trimmed; "" when it is unset.
func (e *envReader) get(name string) string {
	v, _ := e.lookup(name)
	return strings.TrimSpace(v)
}

// bad records a problem with variable name.
func (e *envReader) bad(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// boolean reads true or false (strconv.ParseBool's spellings); def when unset.
func (e *envReader) boolean(name string, def bool) bool {
	v := e.get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.bad(name, "%q is not a boolean (want true or false)", v)
		return def
	}
	return b
}

// positive reads a whole number of at least 1; def when unset.
func (e *envReader) positive(name string, def int) int {
	v := e.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		e.bad(name, "%q is not a positive whole number", v)
		return def
	}
	return n
}

// duration reads a positive duration such as 30s; def when unset.
func (e *envReader) duration(name string, def time.Duration) time.Duration {
	v := e.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.bad(name, "%q is not a positive duration such as 30s", v)
		return def
	}
	return d
}

// durationOrOff reads a positive duration, or "off" (any case) for 0; def when unset.
func (e *envReader) durationOrOff(name string, def time.Duration) time.Duration {
	if strings.EqualFold(e.get(name), "off") {
		return 0
	}
	return e.duration(name, def)
}

// schedule reads a refresh schedule (see ParseSchedule); def when unset.
func (e *envReader) schedule(name, def string) string {
	spec := cmp.Or(e.get(name), def)
	if _, err := ParseSchedule(spec); err != nil {
		e.bad(name, "%v", err)
	}
	return spec
}

// oneOf reads one of choices; the first when unset.
func (e *envReader) oneOf(name string, choices ...string) string {
	v := cmp.Or(e.get(name), choices[0])
	if !slices.Contains(choices, v) {
		e.bad(name, "%q: want %s", v, strings.Join(choices, " or "))
	}
	return v
}

// redis reads where Redis is: REDIS_URL, or REDIS_HOST, REDIS_PORT and REDIS_DB, or
// REDIS_CLUSTER_ADDRS; with REDIS_PASSWORD and REDIS_TLS_CA_FILE.
func (e *envReader) redis() Redis {
	r := Redis{URL: e.get("REDIS_URL"), TLSCAFile: e.get("REDIS_TLS_CA_FILE"), Password: e.get("REDIS_PASSWORD")}
	if v := e.get("REDIS_CLUSTER_ADDRS"); v != "" {
		n := 0
		for a := range strings.SplitSeq(v, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			n++
			if u := clusterEntryURL(a); u != "" {
				addr, err := r.clusterURL(u)
				if err != nil {
					e.bad("REDIS_CLUSTER_ADDRS", "entry %d: %v", n, err)
					continue
				}
				a = addr
			}
			if _, _, err := splitHostPort(a); err != nil {
				// Not quoted: a connection string put here by mistake may hold a password.
				e.bad("REDIS_CLUSTER_ADDRS", "entry %d: %v", n, err)
			}
			r.ClusterAddrs = append(r.ClusterAddrs, a)
		}
	}
	if r.TLSCAFile != "" {
		if !strings.HasPrefix(r.URL, "rediss://") {
			e.bad("REDIS_TLS_CA_FILE", "is set, but TLS is off: give REDIS_URL as rediss://...")
		} else if _, err := r.tlsRoots(); err != nil {
			e.bad("REDIS_TLS_CA_FILE", "%v", err)
		}
	}
	if r.URL != "" {
		if _, err := redis.ParseURL(r.URL); err != nil {
			e.bad("REDIS_URL", "%s", unparseable)
		}
		return r
	}
	host := cmp.Or(e.get("REDIS_HOST"), "127.0.0.1")
	port := cmp.Or(e.get("REDIS_PORT"), "6379")
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		e.bad("REDIS_PORT", "%q is not a port number (1-65535)", port)
	}
	r.Addr = host + ":" + port
	if v := e.get("REDIS_DB"); v != "" {
		db, err := strconv.Atoi(v)
		if err != nil || db < 0 {
			e.bad("REDIS_DB", "%q is not a database number (0 or more)", v)
		}
		r.DB = db
	}
	return r
}

// clusterURL parses a REDIS_CLUSTER_ADDRS entry written as a URL and returns its host:port.
// The first URL entry becomes ClusterURL; later ones must carry the same scheme, user and
// password. A cluster has only DB 0. No error quotes the entry.
func (r *Redis) clusterURL(entry string) (string, error) {
	opts, err := redis.ParseURL(entry)
	if err != nil {
		return "", errors.New(unparseable)
	}
	if opts.DB != 0 {
		return "", errors.New("a Redis Cluster has only DB 0")
	}
	if r.ClusterURL == "" {
		r.ClusterURL = entry
		return opts.Addr, nil
	}
	first, _ := redis.ParseURL(r.ClusterURL)
	if first.Username != opts.Username || first.Password != opts.Password || (first.TLSConfig == nil) != (opts.TLSConfig == nil) {
		return "", errors.New("every URL entry must have the same scheme, user and password")
	}
	return opts.Addr, nil
}

// ParseSchedule parses a refresh-ahead schedule: a five-field cron spec or a descriptor such
// as @hourly or @every 4s.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return s, nil
}

// LogValue renders the configuration for logs with secrets redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database", RedactDSN(c.DatabaseURL)),
		slog.String("redis", c.Redis.String()),
		slog.Bool("warming", c.WarmingEnabled),
		slog.Bool("startup_warm", c.WarmingEnabled && c.StartupWarm),
		slog.Bool("phase3", c.Phase3Enabled),
		slog.String("value_format", c.ValueFormat.String()),
		slog.String("l1_channel", c.L1Channel),
		slog.String("http", c.HTTPAddr),
		slog.Bool("api_token_set", c.APIToken != ""),
		slog.String("datasets_dir", cmp.Or(c.DatasetsDir, "(built in)")),
		slog.Int("workers", c.Workers),
		slog.Duration("job_timeout", c.JobTimeout),
		slog.Duration("rescue_after", c.RescueAfter),
		slog.String("change_capture", c.ChangeCapture),
		slog.Duration("change_poll", c.ChangePoll),
		slog.Duration("cold_check", c.ColdCheck),
		slog.Duration("workflow_retention", c.WorkflowRetention),
		slog.String("memory_budget", c.MemoryBudget.String()),
		slog.Duration("demand_sample", c.DemandSample),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
	)
}

// String describes where Redis is, with no password.
func (r Redis) String() string {
	switch {
	case len(r.ClusterAddrs) > 0:
		return "cluster " + strings.Join(r.ClusterAddrs, ",")
	case r.URL != "":
		return RedactRedisURL(r.URL)
	}
	return fmt.Sprintf("redis://%s/%d", r.Addr, r.DB)
}

// NewRedis builds the Redis client: a cluster client when ClusterAddrs is set, otherwise a
// single-node client. Nothing is dialled until the first command.
func (r Redis) NewRedis() (redis.UniversalClient, error) {
	if len(r.ClusterAddrs) > 0 {
		opts := &redis.ClusterOptions{Addrs: r.ClusterAddrs, Password: r.Password}
		// Credentials and TLS: from a URL entry of REDIS_CLUSTER_ADDRS, else from REDIS_URL.
		src, name := r.URL, "REDIS_URL"
		if r.ClusterURL != "" {
			src, name = r.ClusterURL, "REDIS_CLUSTER_ADDRS"
		}
		if src != "" {
			u, err := redis.ParseURL(src)
			if err != nil {
				return nil, fmt.Errorf("%s: %s", name, unparseable)
			}
			opts.Username, opts.Password, opts.TLSConfig = u.Username, cmp.Or(u.Password, r.Password), u.TLSConfig
			if err := r.configureTLS(opts.TLSConfig); err != nil {
				return nil, err
			}
		}
		return redis.NewClusterClient(opts), nil
	}
	if r.URL != "" {
		opts, err := redis.ParseURL(r.URL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %s", unparseable)
		}
		if opts.Password == "" {
			opts.Password = r.Password
		}
		if err := r.configureTLS(opts.TLSConfig); err != nil {
			return nil, err
		}
		return redis.NewClient(opts), nil
	}
	return redis.NewClient(&redis.Options{Addr: r.Addr, DB: r.DB, Password: r.Password}), nil
}

// configureTLS sets TLS 1.2 as the minimum and, with TLSCAFile, the trusted authorities, on
// the TLS configuration of a rediss:// URL (nil for redis://: nothing to do).
func (r Redis) configureTLS(c *tls.Config) error {
	if c == nil {
		return nil
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	if r.TLSCAFile == "" {
		return nil
	}
	roots, err := r.tlsRoots()
	if err != nil {
		return fmt.Errorf("REDIS_TLS_CA_FILE: %w", err)
	}
	c.RootCAs = roots
	return nil
}

// tlsRoots reads TLSCAFile.
func (r Redis) tlsRoots() (*x509.CertPool, error) {
	pem, err := os.ReadFile(r.TLSCAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", r.TLSCAFile)
	}
	return pool, nil
}

// Connect opens and pings the PostgreSQL pool (pgxpool connects lazily, so a bad address only
// shows at the ping) with room for maxConns connections, and pings Redis.
func Connect(ctx context.Context, c Config, maxConns int) (*pgxpool.Pool, redis.UniversalClient, error) {
	return connect(ctx, c, maxConns, nil)
}

// ConnectWorker is Connect for a worker: the pool has room for one connection per job slot
// plus River's listener, producers and maintenance and the HTTP API, and its sessions commit
// asynchronously (synchronous_commit=off). A worker's own writes are all safe to lose in a
// PostgreSQL crash: a job completion that is lost leaves the job to be rescued and run again
// (warms are idempotent), together with the next phase it inserted in the same transaction.
// Writes that promise something to a caller (starting workflows, queueing re-warms) set
// synchronous_commit back on in their own transactions. This takes a disk flush (about 1.5 ms
// here) off every job.
func ConnectWorker(ctx context.Context, c Config) (*pgxpool.Pool, redis.UniversalClient, error) {
	return connect(ctx, c, c.PoolSize(), map[string]string{"synchronous_commit": "off"})
}

// PoolSize is the PostgreSQL connections one worker process uses at most (the change
// collector holds one of them).
func (c Config) PoolSize() int { return c.Workers + c.ChangeWorkers + 7 }

func connect(ctx context.Context, c Config, maxConns int, params map[string]string) (*pgxpool.Pool, redis.UniversalClient, error) {
	pcfg, err := pgxpool.ParseConfig(c.DatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("DATABASE_URL: %s", dsnUnparseable(err))
	}
	if maxConns > 0 {
		pcfg.MaxConns = int32(maxConns)
	}
	for k, v := range params {
		pcfg.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres at %s: %w", RedactDSN(c.DatabaseURL), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres at %s does not answer: %w", RedactDSN(c.DatabaseURL), err)
	}
	rdb, err := c.Redis.NewRedis()
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		pool.Close()
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("redis at %s does not answer: %w", c.Redis, err)
	}
	return pool, rdb, nil
}

func splitHostPort(a string) (string, int, error) {
	i := strings.LastIndexByte(a, ':')
	if i <= 0 {
		return "", 0, errors.New("want host:port")
	}
	p, err := strconv.Atoi(a[i+1:])
	if err != nil || p < 1 || p > 65535 {
		return "", 0, errors.New("port is not a number 1-65535")
	}
	return a[:i], p, nil
}

// DefaultPhases are the phases a workflow runs when none are named: critical and high, and
// medium when CACHE_WARMING_PHASE3_ENABLED is on.
func (c Config) DefaultPhases() []catalog.Phase {
	if c.Phase3Enabled {
		return catalog.Phases
	}
	return []catalog.Phase{catalog.PhaseCritical, catalog.PhaseHigh}
}

// DatasetJobTimeout bounds one attempt of a dataset re-warm job: half of JobTimeout, as it
// warms part of a phase.
func (c Config) DatasetJobTimeout() time.Duration { return c.JobTimeout / 2 }
