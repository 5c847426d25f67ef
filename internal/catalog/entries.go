package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/pgjson"
)

// Pages describes the list pages a dataset builds from the item rows of its query: the first
// Count x Size items, in the order the query returns them, as Count pages of Size items keyed
// "{Prefix}:{t}:page:{n}:limit:{Size}" (n = 1..Count). A page past the items is "[]".
//
// Each item's JSON is built once; the pages are assembled from the same bytes as they stream
// by, so the database neither aggregates nor sends every item twice.
type Pages struct {
	// Prefix is the pages' "{module}:{entity}", for example "sales:vendors".
	Prefix string
	// Size is the number of items a page holds, Count the number of pages (0: no pages).
	Size, Count int
}

// Suffix returns the key segments after the tenant id of page n (1-based).
func (p Pages) Suffix(n int) string { return cache.PageSuffix(n, p.Size) }

// EmitFunc receives one key's parts and value. value is only valid during the call.
type EmitFunc func(prefix, suffix string, value []byte) error

// Assembler turns the rows of a dataset's query into its entries: every row with a value as
// it is, or, for a [Dataset.List], the list of each key's rows; and the pages of
// [Dataset.Pages] built from them. It holds at most one page or one list in memory. The zero
// value is not usable: see [Dataset.Assemble].
type Assembler struct {
	pages Pages
	list  bool
	emit  EmitFunc
	buf   []byte
	items int // items in the page or list being built
	done  int // pages emitted

	// The key of the list being built, if any.
	listPrefix, listSuffix string
	listOpen               bool
}

// Assemble returns an Assembler that passes d's entries to emit.
func (d Dataset) Assemble(emit EmitFunc) *Assembler {
	return &Assembler{pages: d.Pages, list: d.List, emit: emit}
}

// SetStorage gives the assembler buf's memory to build pages and lists in, so that it need
// not grow a buffer of its own; call it before the first Add. See [Assembler.Storage].
func (a *Assembler) SetStorage(buf []byte) { a.buf = buf[:0] }

// Storage returns the memory the assembler built its pages and lists in, for another
// assembler's SetStorage once this one is done.
func (a *Assembler) Storage() []byte { return a.buf[:0] }

// Add takes one row of the query, as a [Decoder] reads it. A row without a prefix (no row at
// all) is skipped. Otherwise a nil value means nothing to cache for the key, or, in a list,
// a key with no item (its value is []).
func (a *Assembler) Add(prefix, suffix string, value []byte) error {
	switch {
	case prefix == "":
		return nil
	case a.list:
		return a.addToList(prefix, suffix, value)
	case value == nil:
		return nil
	}
	if err := a.emit(prefix, suffix, value); err != nil {
		return err
	}
	if a.done >= a.pages.Count {
		return nil
	}
	a.appendItem(value)
	if a.items == a.pages.Size {
		return a.emitPage()
	}
	return nil
}

// appendItem adds value to the page or list in a.buf.
func (a *Assembler) appendItem(value []byte) {
	if a.items == 0 {
		a.buf = append(a.buf[:0], '[')
	} else {
		a.buf = append(a.buf, ',')
	}
	a.buf = append(a.buf, value...)
	a.items++
}

func (a *Assembler) addToList(prefix, suffix string, value []byte) error {
	if a.listOpen && (prefix != a.listPrefix || suffix != a.listSuffix) {
		if err := a.emitList(); err != nil {
			return err
		}
	}
	if !a.listOpen {
		a.listPrefix, a.listSuffix, a.listOpen = prefix, suffix, true
	}
	if value != nil {
		a.appendItem(value)
	}
	return nil
}

func (a *Assembler) emitList() error {
	a.listOpen = false
	return a.emitBuf(a.listPrefix, a.listSuffix)
}

// emitBuf closes the list or page in a.buf ("[]" if it has no item) and emits it.
func (a *Assembler) emitBuf(prefix, suffix string) error {
	if a.items == 0 {
		a.buf = append(a.buf[:0], '[')
	}
	a.buf = append(a.buf, ']')
	a.items = 0
	return a.emit(prefix, suffix, a.buf)
}

// Close emits the list or page being built and the empty pages after it. Call it once,
// after the last row.
func (a *Assembler) Close() error {
	if a.listOpen {
		if err := a.emitList(); err != nil {
			return err
		}
	}
	for a.done < a.pages.Count {
		if err := a.emitPage(); err != nil {
			return err
		}
	}
	return nil
}

func (a *Assembler) emitPage() error {
	a.done++
	return a.emitBuf(a.pages.Prefix, a.pages.Suffix(a.done))
}

// Querier is what [Dataset.Entries] needs to run a query (a *pgxpool.Pool, a pgx.Tx).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Entry is one key of a dataset, before the tenant is put into it.
type Entry struct {
	Prefix, Suffix string
	Value          []byte
}

// Decoder reads the key parts and value of each row of a dataset's query. It is not safe
// for concurrent use.
type Decoder struct {
	d     Dataset
	off   int // the query's first column
	ready bool
	enc   *pgjson.Encoder
	buf   []byte
}

// Decoder returns a Decoder for rows whose columns from off on are d's query's: prefix,
// suffix and the value (0 for the query itself; the warmer reads the data version first, so 1).
func (d Dataset) Decoder(off int) *Decoder { return &Decoder{d: d, off: off} }

// Row returns the key parts and value of rows' current row, for [Assembler.Add]: an empty
// prefix for no row at all (the warmer's statement yields one with NULLs when the query
// yields none), a nil value for a NULL value, or, in a list, for a row whose first value
// column is NULL (the key's list is empty). value is only valid until the next call. The
// first call checks the result's columns.
func (dec *Decoder) Row(rows pgx.Rows) (prefix, suffix string, value []byte, err error) {
	if !dec.ready {
		if err := dec.init(rows); err != nil {
			return "", "", nil, err
		}
	}
	raw := rows.RawValues()[dec.off:]
	if raw[0] == nil {
		return "", "", nil, nil
	}
	prefix, suffix = string(raw[0]), string(raw[1])
	switch {
	case dec.enc == nil:
		return prefix, suffix, raw[2], nil
	case dec.d.List && raw[2] == nil: // a key whose list is empty
		return prefix, suffix, nil, nil
	}
	dec.buf, err = dec.enc.Append(dec.buf[:0], raw[2:])
	return prefix, suffix, dec.buf, err
}

func (dec *Decoder) init(rows pgx.Rows) error {
	fields := rows.FieldDescriptions()[dec.off:]
	switch {
	case dec.d.Objects && len(fields) < 3:
		return fmt.Errorf("dataset %s: the query yields %d columns, want prefix, suffix and the value's columns", dec.d.Name, len(fields))
	case dec.d.Objects:
		var tm *pgtype.Map
		if c := rows.Conn(); c != nil {
			tm = c.TypeMap()
		}
		enc, err := pgjson.NewEncoder(fields[2:], tm)
		if err != nil {
			return fmt.Errorf("dataset %s: %w", dec.d.Name, err)
		}
		dec.enc = enc
	case len(fields) != 3:
		return fmt.Errorf("dataset %s: the query yields %d columns, want prefix, suffix and value", dec.d.Name, len(fields))
	}
	dec.ready = true
	return nil
}

// Entries runs d's query for tenant through q and returns every entry it yields, lists and
// pages included, in order; rows without a value (nothing to cache) are left out. It holds the
// dataset in memory: the warmer streams instead, this is for verification and comparison.
func (d Dataset) Entries(ctx context.Context, q Querier, tenant string) ([]Entry, error) {
	rows, err := q.Query(ctx, d.SQL, tenant)
	if err != nil {
		return nil, fmt.Errorf("query %s for %s: %w", d.Name, tenant, err)
	}
	defer rows.Close()
	dec := d.Decoder(0)
	var out []Entry
	asm := d.Assemble(func(prefix, suffix string, value []byte) error {
		out = append(out, Entry{Prefix: prefix, Suffix: suffix, Value: append([]byte(nil), value...)})
		return nil
	})
	for rows.Next() {
		prefix, suffix, value, err := dec.Row(rows)
		if err != nil {
			return nil, fmt.Errorf("query %s for %s: %w", d.Name, tenant, err)
		}
		_ = asm.Add(prefix, suffix, value)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query %s for %s: %w", d.Name, tenant, err)
	}
	_ = asm.Close()
	return out, nil
}
