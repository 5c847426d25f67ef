package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	sqlfiles "github.com/cachewarm/cachewarm/sql"
)

// TenantsFile is the file of a datasets directory that says which tenants are active.
const TenantsFile = "tenants.sql"

// Problem is one mistake in a dataset file, located as a compiler would: file and line.
type Problem struct {
	File string
	// Line is 1-based; 0 when the problem is the file's as a whole.
	Line int
	Msg  string
}

// Error returns "file:line: message".
func (p Problem) Error() string {
	if p.Line == 0 {
		return p.File + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Problems is every mistake found in a datasets directory, in file and line order.
type Problems []Problem

// Error lists the problems, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders the problems by file and line.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
}

// ValueKind is how a dataset's rows become values.
type ValueKind string

// The value kinds of the header's value field.
const (
	// ValueObject writes one key per row, the row as a JSON object.
	ValueObject ValueKind = "object"
	// ValueList writes one key per distinct key, its rows as a JSON array in query order.
	ValueList ValueKind = "list"
	// ValueJSON writes the query's value column, JSON text, as it is.
	ValueJSON ValueKind = "json"
)

// headerFields are the fields a dataset file's header may have; required ones are marked.
var headerFields = map[string]bool{
	"phase": true, "ttl": true, "tables": true, "key": true, "value": true,
	"tenant-column": false, "pages": false,
}

// tenantsFields are the fields tenants.sql's header may have.
var tenantsFields = map[string]bool{"tables": true, "tenant-column": false}

var (
	datasetNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	fieldRE       = regexp.MustCompile(`^--\s*([A-Za-z][A-Za-z0-9_-]*):(?:\s+(.*?))?\s*$`)
	identRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`)
)

// header is a parsed file header: each field's value and line.
type header struct {
	values map[string]string
	lines  map[string]int
}

// source is one file split into its header and its query.
type source struct {
	file      string
	header    header
	query     string
	queryLine int
}

// split parses file's text into header and query, reporting header lines that are fields
// not in allowed, repeated fields and missing required ones. Comment lines that are not of
// the form "-- field: value" are free text.
func split(file, text string, allowed map[string]bool) (source, Problems) {
	src := source{file: file, header: header{values: map[string]string{}, lines: map[string]int{}}}
	var probs Problems
	lines := strings.Split(text, "\n")
	i := 0
	for ; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "--") {
			break
		}
		m := fieldRE.FindStringSubmatch(line)
		if m == nil {
			continue // a comment
		}
		name := m[1]
		if _, ok := allowed[name]; !ok {
			probs = append(probs, Problem{file, i + 1, fmt.Sprintf("unknown header field %q (want %s)", name, fieldList(allowed))})
			continue
		}
		if first, dup := src.header.lines[name]; dup {
			probs = append(probs, Problem{file, i + 1, fmt.Sprintf("header field %q given twice (first on line %d)", name, first)})
			continue
		}
		src.header.values[name] = m[2]
		src.header.lines[name] = i + 1
	}
	src.queryLine = i + 1
	src.query = strings.TrimSpace(strings.Join(lines[i:], "\n"))
	src.query = strings.TrimSpace(strings.TrimSuffix(src.query, ";"))
	for _, name := range slices.Sorted(mapsKeys(allowed)) {
		if _, ok := src.header.values[name]; allowed[name] && !ok {
			probs = append(probs, Problem{file, 1, fmt.Sprintf("header field %q is missing", name)})
		}
	}
	if src.query == "" {
		probs = append(probs, Problem{file, src.queryLine, "no query after the header"})
	}
	return src, probs
}

// fieldList names the fields of allowed, for messages.
func fieldList(allowed map[string]bool) string {
	return strings.Join(slices.Sorted(mapsKeys(allowed)), ", ")
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// at returns a problem at field's line.
func (s source) at(field, format string, args ...any) Problem {
	return Problem{s.file, s.header.lines[field], fmt.Sprintf(format, args...)}
}

// parseTables parses a tables field: comma-separated table names, optionally
// schema-qualified.
func (s source) parseTables() ([]string, *Problem) {
	var tables []string
	for _, t := range strings.Split(s.header.values["tables"], ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !identRE.MatchString(t) {
			p := s.at("tables", "table %q: want name or schema.name (letters, digits, _)", t)
			return nil, &p
		}
		if !slices.Contains(tables, t) {
			tables = append(tables, t)
		}
	}
	if len(tables) == 0 {
		p := s.at("tables", "tables: name at least one table whose changes make the data stale")
		return nil, &p
	}
	return tables, nil
}

// tenantColumn parses the tenant-column field, def when absent.
func (s source) tenantColumn(def string) (string, *Problem) {
	c, ok := s.header.values["tenant-column"]
	if !ok {
		return def, nil
	}
	if !nameRE.MatchString(c) {
		p := s.at("tenant-column", "tenant-column %q is not a column name", c)
		return "", &p
	}
	return c, nil
}

// ParseDataset parses the dataset file named file (its base name, less .sql, is the
// dataset's name) from its text. Every problem found is returned, each with its line.
func ParseDataset(file string, text []byte) (Dataset, error) {
	name := strings.TrimSuffix(path.Base(file), ".sql")
	src, probs := split(file, string(text), headerFields)
	d := Dataset{Name: name, SQL: src.query, File: file, QueryLine: src.queryLine, fieldLines: src.header.lines}
	if !datasetNameRE.MatchString(name) {
		probs = append(probs, Problem{file, 0, fmt.Sprintf("dataset name %q (the file name): want [a-z][a-z0-9_]*", name)})
	}
	h := src.header.values
	if v, ok := h["phase"]; ok {
		p, err := ParsePhase(v)
		if err != nil {
			probs = append(probs, src.at("phase", "%v", err))
		}
		d.Phase = p
	}
	if v, ok := h["ttl"]; ok {
		ttl, err := parseTTL(v)
		if err != nil {
			probs = append(probs, src.at("ttl", "%v", err))
		}
		d.TTL = ttl
	}
	if _, ok := h["tables"]; ok {
		tables, p := src.parseTables()
		if p != nil {
			probs = append(probs, *p)
		}
		d.Tables = tables
	}
	col, p := src.tenantColumn("tenant_id")
	if p != nil {
		probs = append(probs, *p)
	}
	d.TenantColumn = col
	if v, ok := h["value"]; ok {
		switch k := ValueKind(v); k {
		case ValueObject, ValueList, ValueJSON:
			d.Value = k
		default:
			probs = append(probs, src.at("value", "value %q: want object, list or json", v))
		}
	}
	if v, ok := h["key"]; ok {
		key, err := ParseTemplate(v)
		if err != nil {
			probs = append(probs, src.at("key", "%v", err))
		}
		d.Key = key
	}
	if v, ok := h["pages"]; ok {
		pages, err := parsePages(v)
		switch {
		case err != nil:
			probs = append(probs, src.at("pages", "%v", err))
		case d.Value != "" && d.Value != ValueObject:
			probs = append(probs, src.at("pages", "pages go with value: object only"))
		}
		d.Pages = pages
	}
	if d.Value == ValueJSON && len(d.Key.Placeholders()) > 0 && slices.Contains(d.Key.Placeholders(), "value") {
		probs = append(probs, src.at("key", "with value: json, the value column cannot be a key placeholder"))
	}
	if len(probs) > 0 {
		probs.sort()
		return d, probs
	}
	return d, nil
}

// ttlClasses are the TTL class names a ttl field may give.
var ttlClasses = map[string]time.Duration{
	"STATIC": cache.TTLStatic, "REFERENCE": cache.TTLReference, "AGGREGATE": cache.TTLAggregate,
	"DASHBOARD": cache.TTLDashboard, "OPERATIONAL": cache.TTLOperational, "AUTH": cache.TTLAuth,
}

// parseTTL parses a Go duration or a TTL class name.
func parseTTL(v string) (time.Duration, error) {
	if ttl, ok := ttlClasses[strings.ToUpper(v)]; ok {
		return ttl, nil
	}
	ttl, err := time.ParseDuration(v)
	if err != nil || ttl < time.Millisecond {
		return 0, fmt.Errorf("ttl %q: want a duration such as 12h or 90m, or one of STATIC, REFERENCE, AGGREGATE, DASHBOARD, OPERATIONAL, AUTH", v)
	}
	return ttl, nil
}

// Tenants is where the active tenants come from: tenants.sql of a datasets directory.
type Tenants struct {
	// SQL returns the ids of the active tenants, one column.
	SQL string
	// Tables are the tables whose changes may make a tenant come or go.
	Tables []string
	// TenantColumn is the tenant id column of Tables.
	TenantColumn string
	// File is where it was read from, for messages.
	File string
}

// defaultTenantsSQL is the tenants query when a directory has no tenants.sql: the demo
// schema's tenants table.
const defaultTenantsSQL = "SELECT id FROM tenants WHERE active"

// DefaultTenants returns the demo schema's tenants source.
func DefaultTenants() Tenants {
	return Tenants{SQL: defaultTenantsSQL, Tables: []string{"tenants"}, TenantColumn: "id", File: TenantsFile}
}

// ParseTenants parses a tenants.sql file.
func ParseTenants(file string, text []byte) (Tenants, error) {
	src, probs := split(file, string(text), tenantsFields)
	tn := Tenants{SQL: src.query, File: file}
	if _, ok := src.header.values["tables"]; ok {
		tables, p := src.parseTables()
		if p != nil {
			probs = append(probs, *p)
		}
		tn.Tables = tables
	}
	col, p := src.tenantColumn("id")
	if p != nil {
		probs = append(probs, *p)
	}
	tn.TenantColumn = col
	if len(probs) > 0 {
		probs.sort()
		return tn, probs
	}
	return tn, nil
}

// Load reads a datasets directory: every <name>.sql file is a dataset, tenants.sql (if
// present) the tenants source. It reports every problem of every file at once.
func Load(fsys fs.FS, dir string) (*Catalog, error) {
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("catalog: list %s: %w", dir, err)
	}
	var probs Problems
	var datasets []Dataset
	tenants := DefaultTenants()
	for _, f := range files {
		text, err := fs.ReadFile(fsys, f)
		name := path.Join(dir, f)
		if err != nil {
			probs = append(probs, Problem{name, 0, err.Error()})
			continue
		}
		if f == TenantsFile {
			if tenants, err = ParseTenants(name, text); err != nil {
				probs = appendProblems(probs, err)
			}
			continue
		}
		d, err := ParseDataset(name, text)
		if err != nil {
			probs = appendProblems(probs, err)
			continue
		}
		datasets = append(datasets, d)
	}
	if len(files) == 0 || len(datasets) == 0 && len(probs) == 0 {
		probs = append(probs, Problem{dir, 0, "no dataset files (<name>.sql) in the directory"})
	}
	if len(probs) > 0 {
		probs.sort()
		return nil, probs
	}
	c, err := New(datasets)
	if err != nil {
		return nil, err
	}
	c.tenants = tenants
	return c, nil
}

// appendProblems adds err's problems (or err itself, without a line) to probs.
func appendProblems(probs Problems, err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return append(probs, ps...)
	}
	return append(probs, Problem{Msg: err.Error()})
}

// Open loads the datasets directory dir, or the embedded demo datasets (package sql) when
// dir is "".
func Open(dir string) (*Catalog, error) {
	if dir == "" {
		return Default()
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("catalog: datasets directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("catalog: datasets directory %s is not a directory", dir)
	}
	return Load(os.DirFS(dir), dir)
}

// Default returns the demo catalog: the dataset files embedded in package sql.
func Default() (*Catalog, error) { return Load(sqlfiles.FS, "sql") }
