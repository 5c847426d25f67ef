package migrations_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/cachewarm/cachewarm/internal/capture"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// seededOnly is a database with two demo tenants seeded and nothing of cachewarm's.
var seededOnly = testenv.NewTemplate("seeded-only", func(ctx context.Context, dbURL string) error {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = demodata.Seed(ctx, pool, demodata.Options{Tenants: 2, Seed: 1})
	return err
})

// newRole creates a role of the test's own (roles are server-wide) with the given attributes,
// dropped at cleanup with everything it owns or was granted in the test's database.
func newRole(t *testing.T, pool *pgxpool.Pool, attrs string) string {
	t.Helper()
	ctx := context.Background()
	name := "cwtest_role_" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_")
	name = name[:min(len(name), 40)] + fmt.Sprintf("_%d", rand.Uint32())
	_, err := pool.Exec(ctx, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" "+attrs)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP OWNED BY "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		_, err := pool.Exec(context.Background(), "DROP ROLE "+pgx.Identifier{name}.Sanitize())
		if err != nil {
			t.Errorf("drop role %s: %v", name, err)
		}
	})
	return name
}

// asUser returns a pool on dbURL logged in as role (the test server trusts every user).
func asUser(t *testing.T, dbURL, role string) *pgxpool.Pool {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.User = url.User(role)
	return testenv.Connect(t, u.String())
}

// TestLeastPrivilegeRoleWritesAsBefore: an application role with SELECT, INSERT, UPDATE and
// DELETE on the ERP's tables and no right at all on schema cachewarm writes every source
// table, and its changes are captured.
func TestLeastPrivilegeRoleWritesAsBefore(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 2)
	ctx := context.Background()
	role := newRole(t, env.Pool, "LOGIN")
	_, err := env.Pool.Exec(ctx, fmt.Sprintf(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %[1]s;
		REVOKE ALL ON SCHEMA cachewarm FROM %[1]s`, pgx.Identifier{role}.Sanitize()))
	require.NoError(t, err)
	app := asUser(t, env.DBURL, role)

	_, err = app.Exec(ctx, `UPDATE vendors SET name = name || '+' WHERE tenant_id = 't001' AND id = 1`)
	require.NoError(t, err, "an UPDATE of a source table")
	_, err = app.Exec(ctx, `INSERT INTO crm_pipeline_stages SELECT (jsonb_populate_record(s, jsonb_build_object('id', s.id + 1000))).* FROM crm_pipeline_stages s WHERE tenant_id = 't002' ORDER BY id LIMIT 1`)
	require.NoError(t, err, "an INSERT")
	_, err = app.Exec(ctx, `DELETE FROM work_centers WHERE tenant_id = 't002' AND id = (SELECT min(id) FROM work_centers WHERE tenant_id = 't002')`)
	require.NoError(t, err, "a DELETE")
	_, err = app.Exec(ctx, `SELECT count(*) FROM cachewarm.river_job`)
	require.ErrorContains(t, err, "permission denied", "the role still has no right on cachewarm's objects")

	collect(t, env.Pool)
	require.Equal(t, 1, rewarmJobs(t, env.Pool, "t001", "vendors"))
	require.Equal(t, 1, rewarmJobs(t, env.Pool, "t002", "pipeline_stages"))
	require.Equal(t, 1, rewarmJobs(t, env.Pool, "t002", "work_centers"))
}

// TestNoInjectedWaitsOrDeadlocks: ERP transactions that touch different rows never wait for
// each other because of cachewarm, in any order, even with one left open.
func TestNoInjectedWaitsOrDeadlocks(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	begin := func() pgx.Tx {
		tx, err := env.Pool.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
		// A wait on a lock fails the statement rather than hanging the test.
		_, err = tx.Exec(ctx, `SET LOCAL lock_timeout = '3s'`)
		require.NoError(t, err)
		return tx
	}

	t.Run("opposite orders", func(t *testing.T) {
		a, b := begin(), begin()
		_, err := a.Exec(ctx, `UPDATE vendors SET name = name || 'a' WHERE tenant_id = 't001' AND id = 1`)
		require.NoError(t, err)
		_, err = b.Exec(ctx, `UPDATE customers SET name = name || 'b' WHERE tenant_id = 't001' AND id = 2`)
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, errs[0] = a.Exec(ctx, `UPDATE customers SET name = name || 'a' WHERE tenant_id = 't001' AND id = 1`); errs[0] == nil {
				errs[0] = a.Commit(ctx)
			}
		}()
		go func() {
			defer wg.Done()
			if _, errs[1] = b.Exec(ctx, `UPDATE vendors SET name = name || 'b' WHERE tenant_id = 't001' AND id = 2`); errs[1] == nil {
				errs[1] = b.Commit(ctx)
			}
		}()
		wg.Wait()
		require.NoError(t, errs[0], "no deadlock, no wait")
		require.NoError(t, errs[1], "no deadlock, no wait")
	})

	t.Run("a transaction left open", func(t *testing.T) {
		open := begin()
		_, err := open.Exec(ctx, `UPDATE vendors SET name = name || 'o' WHERE tenant_id = 't001' AND id = 3`)
		require.NoError(t, err)
		for id := 4; id < 8; id++ {
			tx := begin()
			_, err := tx.Exec(ctx, `UPDATE vendors SET name = name || 'w' WHERE tenant_id = 't001' AND id = $1`, id)
			require.NoError(t, err, "a writer of the same tenant's vendors does not wait for the open one")
			require.NoError(t, tx.Commit(ctx))
		}
		_, err = capture.Collect(ctx, env.Pool)
		require.NoError(t, err, "the collector does not wait for it either")
		require.NoError(t, open.Commit(ctx))
	})
}

// TestMigrateAsDedicatedRole: migrate runs as a role that owns schema cachewarm and has
// TRIGGER on the ERP's tables, but does not own them; its triggers work for other roles.
func TestMigrateAsDedicatedRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.NewDB(t, testenv.FromTemplate(seededOnly))
	admin := testenv.Connect(t, dbURL)
	owner := newRole(t, admin, "LOGIN")
	_, err := admin.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA cachewarm AUTHORIZATION %[1]s;
		GRANT USAGE ON SCHEMA public TO %[1]s;
		GRANT SELECT, TRIGGER ON ALL TABLES IN SCHEMA public TO %[1]s`, pgx.Identifier{owner}.Sanitize()))
	require.NoError(t, err)

	cat, err := catalog.Default()
	require.NoError(t, err)
	res, err := migrations.Migrate(ctx, asUser(t, dbURL, owner), cat, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Len(t, res.Triggered, 17)
	res, err = migrations.Migrate(ctx, asUser(t, dbURL, owner), cat, slog.New(slog.DiscardHandler))
	require.NoError(t, err, "again: it keeps the triggers it has")
	require.Len(t, res.Triggered, 17)

	_, err = admin.Exec(ctx, `UPDATE vendors SET name = name || '+' WHERE tenant_id = 't001' AND id = 1`)
	require.NoError(t, err)
	collect(t, admin)
	require.Equal(t, 1, rewarmJobs(t, admin, "t001", "vendors"))
}
