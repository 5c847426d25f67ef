// Package testenv gives tests real PostgreSQL databases and Redis key spaces of their own.
//
// Services come from TEST_DATABASE_URL and TEST_REDIS_URL, defaulting to the local services
// (postgres://postgres@127.0.0.1:5432/postgres and redis://127.0.0.1:6379). Only when neither
// the variable is set nor the local service answers, and a Docker engine is reachable, are they
// started with testcontainers-go. A test never skips for a missing service: it fails saying how
// to start one.
//
// # Isolation
//
// [NewDB] creates a database per test (dropped at cleanup), optionally cloned from a template
// built once per test binary. [NewRedis] claims one of the numbered Redis DBs 1..13 for the
// test (a lease key in DB 0), empties that DB, and releases it at cleanup. Nothing else on the
// servers is touched.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

const (
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"

	startPostgres = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start " +
		"(or docker compose up -d postgres), or point TEST_DATABASE_URL at a server"
	startRedis = "start it with: redis-server --daemonize yes --port 6379 --save '' --appendonly no " +
		"(or docker compose up -d redis), or point TEST_REDIS_URL at a server"
)

// Main runs a package's tests with goroutine-leak checking, then drops the templates this
// test binary built and runs atExit (for example removing a binary TestMain built). Call it
// from TestMain.
func Main(m *testing.M, atExit ...func()) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/testcontainers/testcontainers-go.(*Reaper).connect.func1"),
		goleak.Cleanup(func(code int) {
			dropTemplates()
			removePGTemplate()
			for _, f := range atExit {
				f()
			}
			os.Exit(code)
		}))
}

// DatabaseURL returns the URL of the test PostgreSQL server's maintenance database.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	u, err := services.postgres()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return u
}

// RedisURL returns the URL of the test Redis server (DB 0).
func RedisURL(t testing.TB) string {
	t.Helper()
	u, err := services.redis()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return u
}

// DBOption configures [NewDB].
type DBOption func(*dbOptions)

type dbOptions struct {
	template *Template
}

// FromTemplate makes NewDB clone tpl's database instead of creating an empty one.
func FromTemplate(tpl *Template) DBOption { return func(o *dbOptions) { o.template = tpl } }

// NewDB creates a database for this test and returns its URL; it is dropped at cleanup.
func NewDB(t testing.TB, opts ...DBOption) string {
	t.Helper()
	var o dbOptions
	for _, opt := range opts {
		opt(&o)
	}
	base := DatabaseURL(t)
	name := DatabaseName(t)
	ctx := context.Background()
	if o.template != nil {
		if err := o.template.create(ctx, base, name); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	} else if err := execAdmin(ctx, base, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	return withDatabase(base, name)
}

// DatabaseName returns a new database name for this test, for code under test that creates
// the database itself (the demo, the benchmark); whatever it created under that name is
// dropped at cleanup.
func DatabaseName(t testing.TB) string {
	t.Helper()
	base := DatabaseURL(t)
	name := "cwtest_" + randomHex(6)
	t.Cleanup(func() {
		err := execAdmin(context.Background(), base, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return name
}

// NewPool is NewDB returning a connected pool (closed at cleanup) instead of the URL.
func NewPool(t testing.TB, opts ...DBOption) *pgxpool.Pool {
	t.Helper()
	return Connect(t, NewDB(t, opts...))
}

// Connect opens a pool on dbURL, closed at cleanup.
func Connect(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("testenv: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Template is a database built once per test binary by a setup function, then cloned by
// NewDB for each test that asks for it. Declare templates as package-level test variables.
type Template struct {
	name  string
	setup func(ctx context.Context, dbURL string) error

	once sync.Once
	err  error
	db   string
}

// NewTemplate declares a template database: setup fills it (it receives the template's URL
// and must close every connection it opens before returning).
func NewTemplate(name string, setup func(ctx context.Context, dbURL string) error) *Template {
	return &Template{name: name, setup: setup}
}

// cloneMu serialises CREATE DATABASE ... TEMPLATE, which fails while another session is
// connected to the template.
var cloneMu sync.Mutex

func (tpl *Template) create(ctx context.Context, base, name string) error {
	tpl.once.Do(func() { tpl.err = tpl.build(ctx, base) })
	if tpl.err != nil {
		return fmt.Errorf("template %s: %w", tpl.name, tpl.err)
	}
	cloneMu.Lock()
	defer cloneMu.Unlock()
	sql := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", pgx.Identifier{name}.Sanitize(), pgx.Identifier{tpl.db}.Sanitize())
	if err := execAdmin(ctx, base, sql); err != nil {
		return fmt.Errorf("clone template %s: %w", tpl.name, err)
	}
	return nil
}

func (tpl *Template) build(ctx context.Context, base string) error {
	tpl.db = fmt.Sprintf("cwtpl_%s_%d_%s", tpl.name, os.Getpid(), randomHex(3))
	registerTemplate(base, tpl.db)
	if err := execAdmin(ctx, base, "CREATE DATABASE "+pgx.Identifier{tpl.db}.Sanitize()); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := tpl.setup(ctx, withDatabase(base, tpl.db)); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

var templates struct {
	sync.Mutex
	base  string
	names []string
}

func registerTemplate(base, name string) {
	templates.Lock()
	defer templates.Unlock()
	templates.base = base
	templates.names = append(templates.names, name)
}

func dropTemplates() {
	templates.Lock()
	defer templates.Unlock()
	for _, n := range templates.names {
		_ = execAdmin(context.Background(), templates.base, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
	}
}

// NewRedis claims a Redis DB number for this test, empties it, and returns a client on it
// (closed at cleanup, when the claim is released) and the DB's URL.
func NewRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	base := RedisURL(t)
	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("testenv: TEST_REDIS_URL: %v", err)
	}
	ctx := context.Background()
	admin := redis.NewClient(opts)
	defer admin.Close()
	token := randomHex(8)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for db := firstTestRedisDB; db <= lastTestRedisDB; db++ {
			ok, err := admin.SetNX(ctx, leaseKey(db), token, 15*time.Minute).Result()
			if err != nil {
				t.Fatalf("testenv: redis at %s: %v; %s", opts.Addr, err, startRedis)
			}
			if !ok {
				continue
			}
			dbOpts := *opts
			dbOpts.DB = db
			rdb := redis.NewClient(&dbOpts)
			// ASYNC: the keys are gone at once and freed in the background, so emptying a DB
			// a previous test filled does not block the shared server's one thread (a
			// synchronous FLUSHDB of a large DB made other tests' reads time out under load).
			if err := rdb.FlushDBAsync(ctx).Err(); err != nil {
				t.Fatalf("testenv: empty claimed redis db %d: %v", db, err)
			}
			t.Cleanup(func() {
				_ = rdb.Close()
				rel := redis.NewClient(opts)
				defer rel.Close()
				releaseLease.Run(context.Background(), rel, []string{leaseKey(db)}, token)
			})
			u, _ := url.Parse(base)
			u.Path = fmt.Sprintf("/%d", db)
			return rdb, u.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: every test redis db (%d..%d) stayed claimed for 2 minutes", firstTestRedisDB, lastTestRedisDB)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NewRedisDB is NewRedis for code under test that opens its own connections by DB number:
// it claims a DB the same way and returns its number and the server's URL (DB 0).
func NewRedisDB(t testing.TB) (int, string) {
	t.Helper()
	rdb, _ := NewRedis(t)
	return rdb.Options().DB, RedisURL(t)
}

const (
	firstTestRedisDB = 1
	lastTestRedisDB  = 13
)

func leaseKey(db int) string { return fmt.Sprintf("cachewarm:testenv:lease:%d", db) }

var releaseLease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

func execAdmin(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
