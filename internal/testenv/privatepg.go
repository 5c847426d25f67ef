package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const installPostgres = "install the server binaries with: apt-get install postgresql (the tests start their own " +
	"PostgreSQL from $(pg_config --bindir), with wal_level=logical, on a free loopback port)"

// PrivatePostgresOptions configures [NewPrivatePostgres].
type PrivatePostgresOptions struct {
	// Settings are extra server settings, passed as -c name=value (for example
	// "max_slot_wal_keep_size": "1MB"). They override the defaults: wal_level=logical,
	// max_wal_senders=10, max_replication_slots=10, listen_addresses=127.0.0.1, a small
	// shared_buffers.
	Settings map[string]string
}

// PrivatePostgres is a PostgreSQL server of the test's own, started from the local server
// binaries in a temporary directory owned by the postgres OS user (initdb and postgres refuse
// to run as root). Unlike the shared server it may be configured and restarted at will.
type PrivatePostgres struct {
	// URL is the superuser's (postgres, trust auth) URL of the postgres database.
	URL string

	dir  string // owned by the server's OS user; holds data/, the socket and the log
	port int
	args []string
	cred *osUser

	mu   sync.Mutex
	proc *pgProcess
}

type pgProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the postmaster has exited
}

type osUser struct{ uid, gid uint32 }

// NewPrivatePostgres starts a private PostgreSQL server for the test and returns it once it
// answers; at cleanup it is stopped (immediate) and its directory removed. It fails the test,
// saying how to install them, when the server binaries are missing.
func NewPrivatePostgres(t testing.TB, opts PrivatePostgresOptions) *PrivatePostgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := StartPrivatePostgres(ctx, opts)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return p
}

// StartPrivatePostgres is NewPrivatePostgres for callers without a testing.TB (benchmarks,
// TestMain): the caller must Close the server. The cluster's files are copied from one
// initdb made once per process (removed by [Main]).
func StartPrivatePostgres(ctx context.Context, opts PrivatePostgresOptions) (*PrivatePostgres, error) {
	bindir, err := pgBindir()
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	tpl, err := pgTemplateDir(bindir, cred)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cachewarm-pg-")
	if err != nil {
		return nil, fmt.Errorf("private postgres: %w", err)
	}
	if err := chownTree(dir, cred); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	// cp -a keeps the owner and the 0700 mode the server insists on.
	if out, err := exec.Command("cp", "-a", tpl, filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("private postgres: copy the initdb template: %v: %s", err, out)
	}
	p := &PrivatePostgres{dir: dir, cred: cred}
	var lastErr error
	for range 5 {
		ports, err := freePorts(1)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("private postgres: free port: %w", err)
		}
		p.port = ports[0]
		p.args = serverArgs(filepath.Join(bindir, "postgres"), dir, p.port, opts.Settings)
		lastErr = p.start(ctx)
		if lastErr == nil {
			p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
			return p, nil
		}
		if !errors.Is(lastErr, errPortTaken) {
			break
		}
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

// DatabaseURL returns the URL of database name on this server.
func (p *PrivatePostgres) DatabaseURL(name string) string { return withDatabase(p.URL, name) }

// NewDB creates a database on this server and returns its URL (the server goes at cleanup,
// and the database with it).
func (p *PrivatePostgres) NewDB(t testing.TB) string {
	t.Helper()
	name := "cwtest_" + randomHex(6)
	if err := execAdmin(context.Background(), p.URL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: private postgres: create database: %v", err)
	}
	return p.DatabaseURL(name)
}

// StopMode says how [PrivatePostgres.Restart] stops the server.
type StopMode int

const (
	// StopFast is pg_ctl's -m fast (SIGINT): sessions are ended and a shutdown checkpoint is
	// written.
	StopFast StopMode = iota
	// StopImmediate is pg_ctl's -m immediate (SIGQUIT): a crash, with recovery at the next start.
	StopImmediate
)

// Restart stops the server (see [StopMode]) and starts it again on the same port and data,
// returning once it answers.
func (p *PrivatePostgres) Restart(ctx context.Context, mode StopMode) error {
	if err := p.stop(mode); err != nil {
		return err
	}
	return p.start(ctx)
}

// Stop stops the server without starting it again; [PrivatePostgres.Start] starts it.
func (p *PrivatePostgres) Stop(mode StopMode) error { return p.stop(mode) }

// Start starts a server stopped by [PrivatePostgres.Stop] and waits until it answers.
func (p *PrivatePostgres) Start(ctx context.Context) error { return p.start(ctx) }

// Close stops the server (immediate: nothing of it is kept) and removes its directory. It is
// safe to call more than once.
func (p *PrivatePostgres) Close() error {
	err := p.stop(StopImmediate)
	if rmErr := os.RemoveAll(p.dir); rmErr != nil && err == nil {
		err = fmt.Errorf("private postgres: remove %s: %w", p.dir, rmErr)
	}
	return err
}

// PID returns the postmaster's process id (0 while stopped).
func (p *PrivatePostgres) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	return p.proc.cmd.Process.Pid
}

// LogTail returns the last lines of the server's log, for failure messages.
func (p *PrivatePostgres) LogTail() string { return tail(filepath.Join(p.dir, "postgres.log")) }

func (p *PrivatePostgres) start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		return fmt.Errorf("private postgres on port %d: already running", p.port)
	}
	logPath := filepath.Join(p.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("private postgres: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	KillWithParent(cmd)
	runAs(cmd, p.cred)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("private postgres: start %s: %w", p.args[0], err)
	}
	proc := &pgProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(proc.done)
	}()
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", p.port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-proc.done:
			log := tail(logPath)
			if strings.Contains(log, "could not bind") || strings.Contains(log, "Address already in use") {
				return fmt.Errorf("private postgres: port %d: %w", p.port, errPortTaken)
			}
			return fmt.Errorf("private postgres: exited at start (%s):\n%s", cmd.ProcessState, log)
		default:
		}
		err := pingPostgres(ctx, url)
		if err == nil {
			p.proc = proc
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-proc.done
			return fmt.Errorf("private postgres on port %d does not answer: %v\n%s", p.port, err, tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *PrivatePostgres) stop(mode StopMode) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return nil
	}
	sig := syscall.SIGINT
	if mode == StopImmediate {
		sig = syscall.SIGQUIT
	}
	_ = p.proc.cmd.Process.Signal(sig)
	select {
	case <-p.proc.done:
	case <-time.After(60 * time.Second):
		_ = p.proc.cmd.Process.Kill()
		<-p.proc.done
	}
	p.proc = nil
	// A postmaster killed before its children leaves them to notice within a moment; the
	// next start waits for the old shared memory to be released.
	return nil
}

func serverArgs(postgres, dir string, port int, extra map[string]string) []string {
	settings := map[string]string{
		"wal_level":               "logical",
		"max_wal_senders":         "10",
		"max_replication_slots":   "10",
		"listen_addresses":        "127.0.0.1",
		"shared_buffers":          "32MB",
		"max_connections":         "40",
		"unix_socket_directories": dir,
	}
	for k, v := range extra {
		settings[k] = v
	}
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	args := []string{postgres, "-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port)}
	for _, k := range names {
		args = append(args, "-c", k+"="+settings[k])
	}
	return args
}

// pgBindir is $(pg_config --bindir), or the newest /usr/lib/postgresql/*/bin when pg_config
// is not installed.
func pgBindir() (string, error) {
	var dir string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir = strings.TrimSpace(string(out))
	} else if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) < pgMajor(dirs[j]) })
		dir = dirs[len(dirs)-1]
	}
	for _, bin := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("private postgres: no %s in %q (pg_config --bindir): %v; %s", bin, dir, err, installPostgres)
		}
	}
	return dir, nil
}

func pgMajor(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}

// serverUser is the OS user the server runs as: the postgres user when the tests run as root,
// else nil (the current user).
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("private postgres: running as root, and PostgreSQL refuses root: no postgres OS user to run it as (%v); %s", err, installPostgres)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &osUser{uid: uint32(uid), gid: uint32(gid)}, nil
}

func chownTree(dir string, cred *osUser) error {
	if cred == nil {
		return nil
	}
	if err := os.Chown(dir, int(cred.uid), int(cred.gid)); err != nil {
		return fmt.Errorf("private postgres: chown %s: %w", dir, err)
	}
	return nil
}

// pgTemplate is the cluster made by initdb once per process; each server copies it.
var pgTemplate struct {
	once sync.Once
	dir  string // parent of data/
	err  error
}

func pgTemplateDir(bindir string, cred *osUser) (string, error) {
	pgTemplate.once.Do(func() {
		dir, err := os.MkdirTemp("", "cachewarm-pgtpl-")
		if err != nil {
			pgTemplate.err = fmt.Errorf("private postgres: %w", err)
			return
		}
		pgTemplate.dir = dir
		if err := chownTree(dir, cred); err != nil {
			pgTemplate.err = err
			return
		}
		cmd := exec.Command(filepath.Join(bindir, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
			"-A", "trust", "-E", "UTF8", "--no-sync")
		runAs(cmd, cred)
		if out, err := cmd.CombinedOutput(); err != nil {
			pgTemplate.err = fmt.Errorf("private postgres: initdb: %v:\n%s", err, out)
		}
	})
	return filepath.Join(pgTemplate.dir, "data"), pgTemplate.err
}

func removePGTemplate() {
	if pgTemplate.dir != "" {
		_ = os.RemoveAll(pgTemplate.dir)
	}
}
