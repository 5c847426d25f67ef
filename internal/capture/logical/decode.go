package logical

import (
	"fmt"
	"log/slog"

	"github.com/jackc/pglogrepl"
)

// Change is one (table, tenant) that changed in a committed transaction.
type Change struct {
	// Table is the [Table.Name] of the captured table, as configured.
	Table string
	// Tenant is the tenant id of a changed row; "" when All is set.
	Tenant string
	// All is set for a TRUNCATE: every tenant of the table changed. It is also set, as a safe
	// fallback, for a DELETE whose old row did not carry the tenant column (a replica identity
	// changed after Setup checked it).
	All bool
}

// changeSet is the distinct changes of a batch of transactions, in the order first seen.
type changeSet struct {
	seen map[Change]struct{}
	list []Change
}

func (s *changeSet) add(c Change) {
	if s.seen == nil {
		s.seen = map[Change]struct{}{}
	}
	if _, ok := s.seen[c]; ok {
		return
	}
	s.seen[c] = struct{}{}
	s.list = append(s.list, c)
}

func (s *changeSet) reset() {
	clear(s.seen)
	s.list = nil
}

// relation is what the decoder knows of a relation id from its Relation message.
type decodedRelation struct {
	table     string // "" when the relation is not captured
	tenantIdx int    // position of the tenant column in the tuples; -1 when absent
	tenantKey bool   // whether the tenant column is part of the replica identity (in key tuples)
}

// decoder turns pgoutput messages (protocol version 1) into the changes of committed
// transactions. It is used by one goroutine.
type decoder struct {
	tables    map[uint32]Table // captured tables by oid
	relations map[uint32]decodedRelation
	logger    *slog.Logger

	inTxn bool
	txn   changeSet // changes of the open transaction
}

func newDecoder(tables map[uint32]Table, logger *slog.Logger) *decoder {
	return &decoder{tables: tables, relations: map[uint32]decodedRelation{}, logger: logger}
}

// decode handles one pgoutput message. At a Commit it returns the message, and the
// transaction's changes are in d.txn until the next Begin.
func (d *decoder) decode(data []byte) (*pglogrepl.CommitMessage, error) {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse pgoutput message: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.BeginMessage:
		d.inTxn = true
		d.txn.reset()
	case *pglogrepl.CommitMessage:
		d.inTxn = false
		return m, nil
	case *pglogrepl.RelationMessage:
		d.relation(m)
	case *pglogrepl.InsertMessage:
		rel, ok := d.relations[m.RelationID]
		if !ok || rel.table == "" {
			return nil, nil
		}
		d.row(rel, m.Tuple)
	case *pglogrepl.UpdateMessage:
		rel, ok := d.relations[m.RelationID]
		if !ok || rel.table == "" {
			return nil, nil
		}
		newTenant, newKnown := tenantOf(rel, m.NewTuple, false)
		if m.OldTuple != nil {
			// Sent when the replica identity's columns changed (index or primary key) or
			// always (FULL): the old row's tenant, which may differ from the new one.
			d.oldRow(rel, m.OldTuple, m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey)
		}
		if newKnown {
			if newTenant != nil {
				d.txn.add(Change{Table: rel.table, Tenant: *newTenant})
			}
		} else if m.OldTuple == nil {
			// The tenant column was not sent in the new row (an unchanged TOASTed value, and so
			// unchanged): nothing says which tenant; re-warm them all.
			d.txn.add(Change{Table: rel.table, All: true})
		}
	case *pglogrepl.DeleteMessage:
		rel, ok := d.relations[m.RelationID]
		if !ok || rel.table == "" {
			return nil, nil
		}
		d.oldRow(rel, m.OldTuple, m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if rel, ok := d.relations[id]; ok && rel.table != "" {
				d.txn.add(Change{Table: rel.table, All: true})
			}
		}
	}
	return nil, nil
}

func (d *decoder) relation(m *pglogrepl.RelationMessage) {
	t, ok := d.tables[m.RelationID]
	if !ok {
		d.relations[m.RelationID] = decodedRelation{tenantIdx: -1}
		return
	}
	rel := decodedRelation{table: t.Name, tenantIdx: -1}
	for i, c := range m.Columns {
		if c.Name == t.TenantColumn {
			rel.tenantIdx = i
			rel.tenantKey = c.Flags&1 != 0
		}
	}
	if rel.tenantIdx < 0 {
		d.logger.Warn("logical capture: captured table has no tenant column any more; its changes re-warm every tenant",
			"table", t.Name, "tenant_column", t.TenantColumn)
	}
	d.relations[m.RelationID] = rel
}

// row records the tenant of a new row (INSERT).
func (d *decoder) row(rel decodedRelation, tuple *pglogrepl.TupleData) {
	tenant, known := tenantOf(rel, tuple, false)
	switch {
	case !known:
		d.txn.add(Change{Table: rel.table, All: true})
	case tenant != nil:
		d.txn.add(Change{Table: rel.table, Tenant: *tenant})
	}
}

// oldRow records the tenant of an old row (DELETE, UPDATE's old values); keyOnly is set when
// the tuple holds the replica identity's columns only.
func (d *decoder) oldRow(rel decodedRelation, tuple *pglogrepl.TupleData, keyOnly bool) {
	tenant, known := tenantOf(rel, tuple, keyOnly)
	switch {
	case !known:
		d.logger.Warn("logical capture: a DELETE or UPDATE did not carry the tenant column (is it still in the replica identity? "+
			"migrate checks it); re-warming every tenant of the table", "table", rel.table)
		d.txn.add(Change{Table: rel.table, All: true})
	case tenant != nil:
		d.txn.add(Change{Table: rel.table, Tenant: *tenant})
	}
}

// tenantOf returns the tenant column's value in tuple: (nil, true) for SQL NULL (a row of no
// tenant), (nil, false) when the tuple does not carry the value.
func tenantOf(rel decodedRelation, tuple *pglogrepl.TupleData, keyOnly bool) (*string, bool) {
	if tuple == nil || rel.tenantIdx < 0 || rel.tenantIdx >= len(tuple.Columns) || (keyOnly && !rel.tenantKey) {
		return nil, false
	}
	col := tuple.Columns[rel.tenantIdx]
	switch col.DataType {
	case pglogrepl.TupleDataTypeText, pglogrepl.TupleDataTypeBinary:
		s := string(col.Data)
		return &s, true
	case pglogrepl.TupleDataTypeNull:
		return nil, true
	default: // 'u': an unchanged TOASTed value that was not sent
		return nil, false
	}
}
