// Package catalog reads the datasets cachewarm keeps warm from a directory of dataset files:
// for each, its phase, TTL, key template, value shape, query and the source tables whose
// changes make it stale; and, from tenants.sql, which tenants are active. The demo's files
// are embedded (package sql); CACHEWARM_DATASETS_DIR names a directory of the user's own.
package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Phase is a warm phase. Phases run in order: critical, then high, then medium.
type Phase string

// The phases, in workflow order.
const (
	PhaseCritical Phase = "critical"
	PhaseHigh     Phase = "high"
	PhaseMedium   Phase = "medium"
)

// Phases lists every phase in workflow order.
var Phases = []Phase{PhaseCritical, PhaseHigh, PhaseMedium}

// Priority is the River priority of the phase's jobs (1 is the highest).
func (p Phase) Priority() int {
	switch p {
	case PhaseCritical:
		return 1
	case PhaseHigh:
		return 2
	default:
		return 3
	}
}

// ParsePhase validates a phase name.
func ParsePhase(s string) (Phase, error) {
	p := Phase(s)
	if slices.Contains(Phases, p) {
		return p, nil
	}
	return "", fmt.Errorf("unknown phase %q: want one of critical, high, medium", s)
}

// ParsePhases validates names and returns them deduplicated in workflow order. Empty names
// (as from a trailing comma) are ignored; no names at all is an error.
func ParsePhases(names []string) ([]Phase, error) {
	seen := map[Phase]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		p, err := ParsePhase(n)
		if err != nil {
			return nil, err
		}
		seen[p] = true
	}
	var out []Phase
	for _, p := range Phases {
		if seen[p] {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no phase given: want one or more of critical, high, medium")
	}
	return out, nil
}

// Dataset is one named set of cache keys, filled by one query: one file of a datasets
// directory (see [ParseDataset] and the README's "Warm your own tables").
type Dataset struct {
	// Name is the dataset's permanent name: its file's name without .sql.
	Name string
	// Phase is the phase that warms the dataset.
	Phase Phase
	// TTL is how long its keys live.
	TTL time.Duration
	// Tables are the source tables whose changes make the dataset stale, as declared
	// (optionally schema-qualified; otherwise resolved through the search_path).
	Tables []string
	// TenantColumn is the tenant id column of Tables.
	TenantColumn string
	// Key is the template of the dataset's keys.
	Key Template
	// Value is how rows become values: object, list or json.
	Value ValueKind
	// Pages, if its Count is not zero, are list pages assembled from the objects (see
	// [Pages]), in the order the query yields them.
	Pages Pages
	// SQL is the query: it takes the tenant id as $1.
	SQL string
	// File is where the dataset was read from, QueryLine the line its query starts on.
	File      string
	QueryLine int
	// fieldLines are the header fields' lines, for [Check]'s messages.
	fieldLines map[string]int
}

// KeyPatterns returns the dataset's key templates, pages last, in the README's form ({t} for
// the tenant).
func (d Dataset) KeyPatterns() []string {
	out := []string{d.Key.Pattern()}
	if d.Pages.Count > 0 {
		out = append(out, d.Pages.Key.Pattern())
	}
	return out
}

// line returns the line of header field name in d's file (1 when unknown).
func (d Dataset) line(name string) int {
	if l, ok := d.fieldLines[name]; ok {
		return l
	}
	return 1
}

// Catalog is the set of datasets, in phase order, and where the tenants come from.
type Catalog struct {
	datasets []Dataset
	byName   map[string]*Dataset
	tenants  Tenants
}

// New builds a catalog from datasets, with the demo schema's tenants source; names must be
// unique and phases valid.
func New(datasets []Dataset) (*Catalog, error) {
	c := &Catalog{byName: make(map[string]*Dataset, len(datasets)), tenants: DefaultTenants()}
	c.datasets = slices.Clone(datasets)
	slices.SortStableFunc(c.datasets, func(a, b Dataset) int { return a.Phase.Priority() - b.Phase.Priority() })
	for i := range c.datasets {
		d := &c.datasets[i]
		if _, err := ParsePhase(string(d.Phase)); err != nil {
			return nil, fmt.Errorf("catalog: dataset %s: %w", d.Name, err)
		}
		if d.Pages.Count > 0 && (d.Pages.Size <= 0 || d.Value != ValueObject) {
			return nil, fmt.Errorf("catalog: dataset %s: pages need value object and a size", d.Name)
		}
		if _, dup := c.byName[d.Name]; dup {
			return nil, fmt.Errorf("catalog: dataset %s listed twice", d.Name)
		}
		c.byName[d.Name] = d
	}
	return c, nil
}

// Tenants returns where the catalog's active tenants come from.
func (c *Catalog) Tenants() Tenants { return c.tenants }

// WithTenants returns a copy of c whose tenants come from tn.
func (c *Catalog) WithTenants(tn Tenants) *Catalog {
	out := *c
	out.tenants = tn
	return &out
}

// All returns every dataset in phase order. The slice must not be modified.
func (c *Catalog) All() []Dataset { return c.datasets }

// Phase returns the datasets of phase p.
func (c *Catalog) Phase(p Phase) []Dataset {
	var out []Dataset
	for _, d := range c.datasets {
		if d.Phase == p {
			out = append(out, d)
		}
	}
	return out
}

// Lookup returns the dataset named name.
func (c *Catalog) Lookup(name string) (Dataset, error) {
	d, ok := c.byName[name]
	if !ok {
		return Dataset{}, fmt.Errorf("unknown dataset %q", name)
	}
	return *d, nil
}

// Names returns every dataset name in phase order.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.datasets))
	for i, d := range c.datasets {
		out[i] = d.Name
	}
	return out
}
