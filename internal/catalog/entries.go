package catalog

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/pgjson"
)

// EmitFunc receives one key's parts and value. value is only valid during the call.
type EmitFunc func(prefix, suffix string, value []byte) error

// Assembler turns the rows of a dataset's query into its entries: every row with a value as
// it is, or, for a dataset of value list, the list of each key's rows; and the pages of
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
	// lists are the keys of the lists emitted so far, to refuse a key whose rows are not
	// together.
	lists map[string]bool
	// empty is the key written as [] when a list dataset yields no row: its template has
	// no placeholder but the tenant.
	empty *Template
}

// Assemble returns an Assembler that passes d's entries to emit.
func (d Dataset) Assemble(emit EmitFunc) *Assembler {
	a := &Assembler{pages: d.Pages, list: d.Value == ValueList, emit: emit}
	if a.list {
		a.lists = map[string]bool{}
		if len(d.Key.Placeholders()) == 0 {
			a.empty = &d.Key
		}
	}
	return a
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
		if a.lists[prefix+":"+suffix] {
			return fmt.Errorf("the rows of key %s:{tenant}:%s do not come together: order the query by the key's columns", prefix, suffix)
		}
		a.listPrefix, a.listSuffix, a.listOpen = prefix, suffix, true
	}
	if value != nil {
		a.appendItem(value)
	}
	return nil
}

func (a *Assembler) emitList() error {
	a.listOpen = false
	a.lists[a.listPrefix+":"+a.listSuffix] = true
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
	if a.empty != nil && len(a.lists) == 0 {
		a.items = 0
		if err := a.emitBuf(a.empty.Prefix, a.empty.Suffix(nil)); err != nil {
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
	return a.emitBuf(a.pages.Prefix(), a.pages.Suffix(a.done))
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
	off   int // the row marker column: see [Dataset.Decoder]
	ready bool

	value    *pgjson.Encoder // the value's columns (object, list)
	valueIdx []int           // their indexes among the query's columns
	jsonIdx  int             // the value column (json)

	keyEnc  *pgjson.Encoder // the key placeholders' columns
	keyIdx  map[string]int  // placeholder -> index among keyEnc's columns
	keyRaw  []int           // keyEnc column -> index among the query's columns
	keyText []bool          // whether a key column's raw value is its text

	row     [][]byte // the query's columns of the current row
	vals    [][]byte
	buf     []byte
	seg     []byte
	skipped int
	nullKey string // the placeholder found NULL in the current row
}

// Decoder returns a Decoder for rows whose column off is a marker, NULL when the query
// yielded no row, followed by the query's own columns (as [RowsSQL] wraps it).
func (d Dataset) Decoder(off int) *Decoder { return &Decoder{d: d, off: off} }

// RowsSQL wraps d's query so that it yields the marker column [Dataset.Decoder] reads,
// true on every row of the query and NULL on the one row it yields when the query yields
// none.
func (d Dataset) RowsSQL() string {
	return "SELECT q.* FROM (SELECT) AS one LEFT JOIN (SELECT true AS cachewarm_row, q0.* FROM (\n" + d.SQL + "\n) AS q0) AS q ON true"
}

// Row returns the key parts and value of rows' current row, for [Assembler.Add]: an empty
// prefix for no row at all, or for a row whose key cannot be built (a NULL placeholder
// column: counted by [Decoder.Skipped]); a nil value for a NULL json value, or, in a list,
// for a row whose value columns are all NULL (the key's list is empty). value is only valid
// until the next call. The first call checks the result's columns.
func (dec *Decoder) Row(rows pgx.Rows) (prefix, suffix string, value []byte, err error) {
	if !dec.ready {
		var tm *pgtype.Map
		if c := rows.Conn(); c != nil {
			tm = c.TypeMap()
		}
		if err := dec.Init(rows.FieldDescriptions(), tm); err != nil {
			return "", "", nil, err
		}
	}
	raw := rows.RawValues()[dec.off:]
	if raw[0] == nil {
		return "", "", nil, nil
	}
	dec.row = raw[1:]
	dec.nullKey = ""
	suffix = dec.d.Key.Suffix(dec.segment)
	if dec.nullKey != "" {
		dec.skipped++
		return "", "", nil, nil
	}
	prefix = dec.d.Key.Prefix
	if dec.value == nil { // json
		return prefix, suffix, dec.row[dec.jsonIdx], nil
	}
	dec.vals = dec.vals[:0]
	empty := true
	for _, i := range dec.valueIdx {
		dec.vals = append(dec.vals, dec.row[i])
		empty = empty && dec.row[i] == nil
	}
	if empty && dec.d.Value == ValueList {
		return prefix, suffix, nil, nil
	}
	dec.buf, err = dec.value.Append(dec.buf[:0], dec.vals)
	return prefix, suffix, dec.buf, err
}

// Skipped returns how many rows were left out because a key placeholder's column was NULL.
func (dec *Decoder) Skipped() int { return dec.skipped }

// segment renders placeholder name's column of the current row as a key segment: as the
// text a JavaScript template literal would give the node-postgres value, escaped with
// [cache.EscapeSegment] so that data cannot reach outside its segment.
func (dec *Decoder) segment(name string) string {
	i := dec.keyIdx[name]
	raw := dec.row[dec.keyRaw[i]]
	if raw == nil {
		dec.nullKey = name
		return ""
	}
	if dec.keyText[i] {
		return cache.EscapeSegment(string(raw))
	}
	seg, err := dec.keyEnc.AppendValue(dec.seg[:0], i, raw)
	if err != nil {
		dec.nullKey = name
		return ""
	}
	dec.seg = seg
	if len(seg) >= 2 && seg[0] == '"' {
		seg = seg[1 : len(seg)-1] // numbers as strings, dates, timestamps: no escapes inside
	}
	return cache.EscapeSegment(string(seg))
}

// Init checks the result's columns (from off on: the marker, then the query's) against the
// dataset: every key placeholder is a column, every value column has a JSON rule, a json
// dataset has a text or json column named value. tm decodes session-dependent text formats;
// nil is pgx's default map. [Decoder.Row] calls it on the first row.
func (dec *Decoder) Init(fields []pgconn.FieldDescription, tm *pgtype.Map) error {
	d := dec.d
	if len(fields) <= dec.off {
		return fmt.Errorf("dataset %s: the result has no row marker column", d.Name)
	}
	cols := fields[dec.off+1:]
	index := map[string]int{}
	for i, f := range cols {
		if _, dup := index[f.Name]; dup && (slices.Contains(d.Key.Placeholders(), f.Name) || !strings.HasPrefix(f.Name, "_")) {
			return fmt.Errorf("dataset %s: the query yields column %q twice", d.Name, f.Name)
		}
		index[f.Name] = i
	}
	var keyFields []pgconn.FieldDescription
	dec.keyIdx = map[string]int{}
	for _, name := range d.Key.Placeholders() {
		i, ok := index[name]
		if !ok {
			return fmt.Errorf("dataset %s: key placeholder {%s} is no column of the query (columns: %s)", d.Name, name, columnNames(cols))
		}
		dec.keyIdx[name] = len(keyFields)
		dec.keyRaw = append(dec.keyRaw, i)
		dec.keyText = append(dec.keyText, textOID(cols[i].DataTypeOID))
		keyFields = append(keyFields, cols[i])
	}
	var err error
	if dec.keyEnc, err = pgjson.NewEncoder(keyFields, tm); err != nil {
		return fmt.Errorf("dataset %s: key: %w", d.Name, err)
	}
	if d.Value == ValueJSON {
		i, ok := index["value"]
		switch {
		case !ok:
			return fmt.Errorf("dataset %s: value json needs a column named value (columns: %s)", d.Name, columnNames(cols))
		case !textOID(cols[i].DataTypeOID) && cols[i].DataTypeOID != pgtype.JSONOID:
			return fmt.Errorf("dataset %s: column value has type OID %d: want text or json (jsonb keeps its own spacing, even cast to json: build the value as text, e.g. row_to_json(x)::text)", d.Name, cols[i].DataTypeOID)
		}
		dec.jsonIdx = i
		dec.ready = true
		return nil
	}
	var valueFields []pgconn.FieldDescription
	for i, f := range cols {
		if !strings.HasPrefix(f.Name, "_") {
			dec.valueIdx = append(dec.valueIdx, i)
			valueFields = append(valueFields, f)
		}
	}
	if len(valueFields) == 0 {
		return fmt.Errorf("dataset %s: the query yields no value column (columns starting with _ serve keys only)", d.Name)
	}
	if dec.value, err = pgjson.NewEncoder(valueFields, tm); err != nil {
		return fmt.Errorf("dataset %s: %w", d.Name, err)
	}
	dec.ready = true
	return nil
}

// textOID reports whether values of type oid are their text, in either format.
func textOID(oid uint32) bool {
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID:
		return true
	}
	return false
}

// columnNames lists cols' names for messages.
func columnNames(cols []pgconn.FieldDescription) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// Entries runs d's query for tenant through q and returns every entry it yields, lists and
// pages included, in order; rows without a value (nothing to cache) are left out. It holds the
// dataset in memory: the warmer streams instead, this is for verification and comparison.
func (d Dataset) Entries(ctx context.Context, q Querier, tenant string) ([]Entry, error) {
	rows, err := q.Query(ctx, d.RowsSQL(), tenant)
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
		if err := asm.Add(prefix, suffix, value); err != nil {
			return nil, fmt.Errorf("query %s for %s: %w", d.Name, tenant, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query %s for %s: %w", d.Name, tenant, err)
	}
	if err := asm.Close(); err != nil {
		return nil, fmt.Errorf("query %s for %s: %w", d.Name, tenant, err)
	}
	return out, nil
}
