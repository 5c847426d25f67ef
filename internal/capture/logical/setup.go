package logical

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// PublicationName is the name of the publication [Setup] keeps in step with the tables.
	PublicationName = "cachewarm"
	// SlotName is the name of the logical replication slot (pgoutput) the [Streamer] reads.
	SlotName = "cachewarm"
)

// ErrWALLevel is wrapped by the error [CheckWALLevel] and [Setup] return when the server cannot
// decode its WAL logically.
var ErrWALLevel = errors.New("the logical change capture needs wal_level = logical")

// ErrReplicaIdentity is wrapped by the error [Setup] returns for tables whose UPDATE and DELETE
// would not carry their tenant column.
var ErrReplicaIdentity = errors.New("tenant column not in the replica identity")

// Table is one source table to capture.
type Table struct {
	// Name is the table's name as ::regclass accepts it, schema-qualified to be independent of
	// the search_path ("public.vendors", "purchasing.suppliers"). Changes carry it unchanged.
	Name string
	// TenantColumn is the column that holds the row's tenant id.
	TenantColumn string
}

// DB is what [CheckWALLevel], [Inspect] and [Lag] need of a connection: a *pgx.Conn, a
// *pgxpool.Pool or a pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TxDB is what [Setup] needs: a DB that begins transactions (a *pgx.Conn or a *pgxpool.Pool,
// not a transaction: creating the slot must not run inside one that wrote).
type TxDB interface {
	DB
	Begin(ctx context.Context) (pgx.Tx, error)
}

//go:embed queries/*.sql
var queries embed.FS

// query returns the text of queries/<name>.sql; the names are constants of this package.
func query(name string) string {
	b, err := queries.ReadFile("queries/" + name + ".sql")
	if err != nil {
		panic(fmt.Sprintf("logical: no query %s: %v", name, err))
	}
	return string(b)
}

// CheckWALLevel returns an error wrapping [ErrWALLevel], saying what to set, unless the server
// decodes its WAL logically and allows a replication slot and a WAL sender. The worker calls it
// at start in the logical mode.
func CheckWALLevel(ctx context.Context, db DB) error {
	var level string
	var slots, senders int
	if err := db.QueryRow(ctx, query("wal_settings")).Scan(&level, &slots, &senders); err != nil {
		return fmt.Errorf("read wal_level: %w", err)
	}
	if level != "logical" {
		return fmt.Errorf("%w, and this server has wal_level = %s: run ALTER SYSTEM SET wal_level = logical; "+
			"then restart PostgreSQL (a reload is not enough), or choose CACHEWARM_CHANGE_CAPTURE=triggers", ErrWALLevel, level)
	}
	if slots < 1 || senders < 1 {
		return fmt.Errorf("%w and a replication slot and WAL sender for cachewarm: this server has max_replication_slots = %d "+
			"and max_wal_senders = %d; raise each by one (ALTER SYSTEM SET ...), then restart PostgreSQL", ErrWALLevel, slots, senders)
	}
	return nil
}

// Setup prepares the logical change capture of tables; `cachewarm migrate` runs it. It refuses
// (with [ErrWALLevel]) a server without wal_level = logical, and (with [ErrReplicaIdentity],
// naming every such table and the statement that fixes it) tables whose UPDATE and DELETE
// would not carry the tenant column; nothing is changed then. Otherwise it creates the
// publication [PublicationName] or updates it to list exactly these tables, and creates the
// slot [SlotName] (pgoutput) if it is missing. Running it again changes nothing. A slot that
// PostgreSQL invalidated is left to the [Streamer], which recreates it and reports the loss.
//
// It needs the rights of the tables' owner (to publish them) and the REPLICATION attribute (to
// create the slot), or a superuser. Creating the slot waits for the transactions running at
// that moment to end.
func Setup(ctx context.Context, conn TxDB, tables []Table) error {
	if err := CheckWALLevel(ctx, conn); err != nil {
		return err
	}
	rels, err := checkTables(ctx, conn, tables)
	if err != nil {
		return err
	}
	if err := syncPublication(ctx, conn, rels); err != nil {
		return fmt.Errorf("publication %s: %w", PublicationName, err)
	}
	slot, err := Inspect(ctx, conn)
	if err != nil {
		return err
	}
	if !slot.Exists {
		if _, err := createSlot(ctx, conn); err != nil {
			return err
		}
		return nil
	}
	if slot.Plugin != "pgoutput" || slot.Type != "logical" || !slot.ThisDatabase {
		return fmt.Errorf("replication slot %s exists but is not cachewarm's (a %s slot, plugin %q, this database: %t): "+
			"drop it with SELECT pg_drop_replication_slot('%s') or free the name", SlotName, slot.Type, slot.Plugin, slot.ThisDatabase, SlotName)
	}
	return nil
}

// relation is a checked source table.
type relation struct {
	oid       int64
	qualified string // schema.table, quoted where needed
}

// checkTables resolves every table and checks its replica identity, reporting every problem.
func checkTables(ctx context.Context, db DB, tables []Table) ([]relation, error) {
	var rels []relation
	var errs []error
	seen := map[int64]bool{}
	for _, t := range tables {
		rel, err := checkTable(ctx, db, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !seen[rel.oid] {
			seen[rel.oid] = true
			rels = append(rels, rel)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rels, nil
}

func checkTable(ctx context.Context, db DB, t Table) (relation, error) {
	var (
		rel                                 relation
		kind, ident, identIndex, col, index string
		hasColumn, notNull, inIdentity      bool
		identColumns, primaryKeyColumns     []string
	)
	err := db.QueryRow(ctx, query("table_identity"), t.Name, t.TenantColumn).Scan(&rel.oid, &rel.qualified, &kind, &ident,
		&hasColumn, &notNull, &inIdentity, &identIndex, &identColumns, &primaryKeyColumns, &col, &index)
	if errors.Is(err, pgx.ErrNoRows) {
		return rel, fmt.Errorf("table %s: does not exist", t.Name)
	}
	if err != nil {
		return rel, fmt.Errorf("table %s: read its replica identity: %w", t.Name, err)
	}
	if kind != "r" && kind != "p" {
		return rel, fmt.Errorf("table %s: is not a table (relkind %s) and cannot be published", t.Name, kind)
	}
	if !hasColumn {
		return rel, fmt.Errorf("table %s: has no column %s (its tenant column)", t.Name, t.TenantColumn)
	}
	if kind == "p" {
		// Published as the partitioned table, but each partition's UPDATEs and DELETEs carry
		// the old row as that partition's own replica identity says.
		return rel, checkPartitions(ctx, db, t)
	}
	if ident == "f" || inIdentity {
		return rel, nil
	}
	var has string
	switch {
	case ident == "n":
		has = "REPLICA IDENTITY NOTHING: its UPDATEs and DELETEs would fail once it is published"
	case ident == "d" && len(identColumns) == 0:
		has = "no primary key, so no replica identity: its UPDATEs and DELETEs would fail once it is published"
	case ident == "d":
		has = fmt.Sprintf("the primary key (%s)", strings.Join(identColumns, ", "))
	default:
		has = fmt.Sprintf("the index %s (%s)", identIndex, strings.Join(identColumns, ", "))
	}
	fix := fmt.Sprintf("ALTER TABLE %s REPLICA IDENTITY FULL; (simplest: UPDATE and DELETE then write the whole old row to the WAL)", rel.qualified)
	if key := primaryKeyColumns; len(key) > 0 {
		notNullFix := ""
		if !notNull {
			notNullFix = fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL; ", rel.qualified, col)
		}
		fix += fmt.Sprintf(", or %sCREATE UNIQUE INDEX %s ON %s (%s, %s); ALTER TABLE %s REPLICA IDENTITY USING INDEX %s;",
			notNullFix, index, rel.qualified, strings.Join(key, ", "), col, rel.qualified, index)
	}
	return rel, fmt.Errorf("table %s: %w: its replica identity is %s, so a DELETE (or an UPDATE that moves a row to another tenant) "+
		"would not say which tenant it touched; fix: %s", t.Name, ErrReplicaIdentity, has, fix)
}

func checkPartitions(ctx context.Context, db DB, t Table) error {
	rows, err := db.Query(ctx, query("partitions"), t.Name)
	if err != nil {
		return fmt.Errorf("table %s: list its partitions: %w", t.Name, err)
	}
	leaves, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("table %s: list its partitions: %w", t.Name, err)
	}
	var errs []error
	for _, leaf := range leaves {
		if _, err := checkTable(ctx, db, Table{Name: leaf, TenantColumn: t.TenantColumn}); err != nil {
			errs = append(errs, fmt.Errorf("partition of %s: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// syncPublication creates the publication for rels, or makes it list exactly rels, in one
// transaction.
func syncPublication(ctx context.Context, conn TxDB, rels []relation) error {
	const options = "publish = 'insert, update, delete, truncate', publish_via_partition_root = true"
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var allTables, ins, upd, del, trunc, viaRoot bool
	err = tx.QueryRow(ctx, query("publication"), PublicationName).Scan(&allTables, &ins, &upd, &del, &trunc, &viaRoot)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		sql := "CREATE PUBLICATION " + PublicationName
		if len(rels) > 0 {
			sql += " FOR TABLE " + qualifiedList(rels)
		}
		if _, err := tx.Exec(ctx, sql+" WITH ("+options+")"); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		return tx.Commit(ctx)
	case err != nil:
		return err
	case allTables:
		return fmt.Errorf("exists FOR ALL TABLES; cachewarm keeps its own list: DROP PUBLICATION %s and migrate again", PublicationName)
	}
	if !ins || !upd || !del || !trunc || !viaRoot {
		if _, err := tx.Exec(ctx, "ALTER PUBLICATION "+PublicationName+" SET ("+options+")"); err != nil {
			return fmt.Errorf("set options: %w", err)
		}
	}
	rows, err := tx.Query(ctx, query("publication_tables"), PublicationName)
	if err != nil {
		return err
	}
	published := map[int64]string{}
	for rows.Next() {
		var oid int64
		var name string
		if err := rows.Scan(&oid, &name); err != nil {
			return err
		}
		published[oid] = name
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var add []relation
	for _, r := range rels {
		if _, ok := published[r.oid]; ok {
			delete(published, r.oid)
			continue
		}
		add = append(add, r)
	}
	if len(add) > 0 {
		if _, err := tx.Exec(ctx, "ALTER PUBLICATION "+PublicationName+" ADD TABLE "+qualifiedList(add)); err != nil {
			return fmt.Errorf("add tables: %w", err)
		}
	}
	if len(published) > 0 {
		var drop []string
		for _, name := range published {
			drop = append(drop, name)
		}
		if _, err := tx.Exec(ctx, "ALTER PUBLICATION "+PublicationName+" DROP TABLE "+strings.Join(drop, ", ")); err != nil {
			return fmt.Errorf("drop tables: %w", err)
		}
	}
	return tx.Commit(ctx)
}

func qualifiedList(rels []relation) string {
	names := make([]string, len(rels))
	for i, r := range rels {
		names[i] = r.qualified
	}
	return strings.Join(names, ", ")
}

// createSlot creates the slot; it returns the LSN it starts at.
func createSlot(ctx context.Context, db DB) (string, error) {
	var lsn string
	if err := db.QueryRow(ctx, query("create_slot"), SlotName).Scan(&lsn); err != nil {
		return "", fmt.Errorf("create replication slot %s (needs the REPLICATION attribute or a superuser): %w", SlotName, err)
	}
	return lsn, nil
}

// SlotInfo is the state of the replication slot, for `status` and /metrics.
type SlotInfo struct {
	// Exists is false when there is no slot of that name (the fields below are then zero).
	Exists bool
	// Plugin and Type are the slot's output plugin and type ("pgoutput", "logical").
	Plugin, Type string
	// ThisDatabase is whether the slot decodes the database of the connection.
	ThisDatabase bool
	// Active is whether a process streams it; ActivePID is that process (a WAL sender).
	Active    bool
	ActivePID int
	// WALStatus is PostgreSQL's wal_status: reserved, extended, unreserved, or lost (the slot
	// was invalidated and can no longer be streamed).
	WALStatus string
	// ConfirmedLSN is the position up to which changes have been confirmed.
	ConfirmedLSN string
	// LagBytes is how much WAL was written after ConfirmedLSN: what PostgreSQL keeps for the
	// slot and what cachewarm has yet to confirm.
	LagBytes int64
}

// Lost reports whether the slot cannot be streamed any more: missing, or invalidated.
func (s SlotInfo) Lost() bool { return !s.Exists || s.WALStatus == "lost" }

// Inspect returns the state of the slot [SlotName].
func Inspect(ctx context.Context, db DB) (SlotInfo, error) {
	var s SlotInfo
	err := db.QueryRow(ctx, query("slot"), SlotName).Scan(&s.Plugin, &s.Type, &s.ThisDatabase, &s.Active, &s.ActivePID,
		&s.WALStatus, &s.ConfirmedLSN, &s.LagBytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return SlotInfo{}, nil
	}
	if err != nil {
		return s, fmt.Errorf("read replication slot %s: %w", SlotName, err)
	}
	s.Exists = true
	return s, nil
}

// ErrNoSlot is returned by [Lag] when the slot does not exist.
var ErrNoSlot = errors.New("no replication slot " + SlotName)

// Lag returns how many bytes of WAL the slot holds that cachewarm has not confirmed yet
// (pg_current_wal_lsn() - confirmed_flush_lsn), for /metrics and `status`. Any worker may ask,
// leader or not.
func Lag(ctx context.Context, db DB) (int64, error) {
	s, err := Inspect(ctx, db)
	if err != nil {
		return 0, err
	}
	if !s.Exists {
		return 0, ErrNoSlot
	}
	return s.LagBytes, nil
}
