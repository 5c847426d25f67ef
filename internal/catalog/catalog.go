// Package catalog lists the datasets cachewarm keeps warm: for each, its phase, TTL, key
// patterns, query (an embedded file of package sql) and the source tables whose changes make it
// stale.
package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	sqlfiles "github.com/cachewarm/cachewarm/sql"
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

// Dataset is one named set of cache keys, filled by one query.
type Dataset struct {
	// Name is the dataset's permanent name, as in SPEC §3 (chart_of_accounts, ...).
	Name string
	// Phase is the phase that warms the dataset.
	Phase Phase
	// TTL is how long its keys live.
	TTL time.Duration
	// Keys are the key patterns it writes, for documentation and verification, in SPEC form
	// ({t} for the tenant id).
	Keys []string
	// Tables are the source tables whose changes make the dataset stale (change triggers).
	Tables []string
	// SQL is the query text (see package sql for its contract).
	SQL string
	// Pages, if its Count is not zero, are list pages assembled from the query's rows (see
	// [Pages]); the query then yields the items only, in page order.
	Pages Pages
	// Objects means the query yields each value as typed columns after prefix and suffix,
	// not as JSON text: each row's value is the JSON object of those columns, encoded by
	// package pgjson the way JSON.stringify writes the row node-postgres returns.
	Objects bool
	// List (with Objects) makes each key's value the JSON array of the objects of its rows:
	// the query yields the rows of a key one after another, in list order, and a row whose
	// first value column is NULL stands for a key whose list is empty ([]).
	List bool
}

// Catalog is the set of datasets, in phase order.
type Catalog struct {
	datasets []Dataset
	byName   map[string]*Dataset
}

// Default returns the catalog of SPEC §3 with the queries embedded in package sql.
func Default() (*Catalog, error) {
	ds := defaultDatasets()
	for i := range ds {
		b, err := sqlfiles.FS.ReadFile(ds[i].Name + ".sql")
		if err != nil {
			return nil, fmt.Errorf("catalog: query of dataset %s: %w", ds[i].Name, err)
		}
		ds[i].SQL = string(b)
	}
	return New(ds)
}

// New builds a catalog from datasets; names must be unique and phases valid.
func New(datasets []Dataset) (*Catalog, error) {
	c := &Catalog{byName: make(map[string]*Dataset, len(datasets))}
	c.datasets = slices.Clone(datasets)
	slices.SortStableFunc(c.datasets, func(a, b Dataset) int { return a.Phase.Priority() - b.Phase.Priority() })
	for i := range c.datasets {
		d := &c.datasets[i]
		if _, err := ParsePhase(string(d.Phase)); err != nil {
			return nil, fmt.Errorf("catalog: dataset %s: %w", d.Name, err)
		}
		if d.List && (!d.Objects || d.Pages.Count > 0) {
			return nil, fmt.Errorf("catalog: dataset %s: a list needs Objects and has no pages", d.Name)
		}
		if d.Pages.Count > 0 && d.Pages.Size <= 0 {
			return nil, fmt.Errorf("catalog: dataset %s: pages of %d items", d.Name, d.Pages.Size)
		}
		if _, dup := c.byName[d.Name]; dup {
			return nil, fmt.Errorf("catalog: dataset %s listed twice", d.Name)
		}
		c.byName[d.Name] = d
	}
	return c, nil
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

// defaultDatasets is SPEC §3's table. Tables lists every table a dataset's query reads, so a
// change to any of them re-warms the dataset; tenants is listed where the query reads the
// tenant's base currency.
func defaultDatasets() []Dataset {
	return []Dataset{
		// critical: essential reference data.
		{Name: "chart_of_accounts", Phase: PhaseCritical, TTL: cache.TTLStatic,
			Keys: []string{"finance:coa:{t}"}, Tables: []string{"chart_of_accounts"}, Objects: true, List: true},
		{Name: "financial_periods", Phase: PhaseCritical, TTL: cache.TTLStatic,
			Keys: []string{"finance:periods:{t}:window:current"}, Tables: []string{"financial_periods"}, Objects: true, List: true},
		{Name: "current_period", Phase: PhaseCritical, TTL: cache.TTLStatic,
			Keys: []string{"finance:current_period:{t}"}, Tables: []string{"financial_periods"}, Objects: true},
		{Name: "pipeline_stages", Phase: PhaseCritical, TTL: cache.TTLStatic,
			Keys: []string{"crm:stages:{t}"}, Tables: []string{"crm_pipeline_stages"}, Objects: true, List: true},
		{Name: "work_centers", Phase: PhaseCritical, TTL: cache.TTLStatic,
			Keys: []string{"ops:workcenters:{t}:facilityId:{f}"}, Tables: []string{"facilities", "work_centers"}, Objects: true, List: true},
		{Name: "exchange_rates", Phase: PhaseCritical, TTL: cache.TTLStatic,
			Keys: []string{"finance:xrate:{t}:from:{FROM}:to:{TO}:date:latest"}, Tables: []string{"exchange_rates"}, Objects: true},

		// high: master data.
		{Name: "vendors", Phase: PhaseHigh, TTL: cache.TTLReference,
			Keys:   []string{"sales:vendors:{t}:page:{n}:limit:100", "sales:vendor:{t}:vendorId:{id}"},
			Tables: []string{"vendors"}, Objects: true,
			Pages: Pages{Prefix: "sales:vendors", Size: cache.PageSize, Count: 5}},
		{Name: "customers", Phase: PhaseHigh, TTL: cache.TTLReference,
			Keys:   []string{"sales:customers:{t}:page:{n}:limit:100", "sales:customer:{t}:customerId:{id}"},
			Tables: []string{"customers"}, Objects: true,
			Pages: Pages{Prefix: "sales:customers", Size: cache.PageSize, Count: 5}},
		{Name: "materials", Phase: PhaseHigh, TTL: cache.TTLReference,
			Keys:   []string{"sales:materials:{t}:page:{n}:limit:100", "sales:material:{t}:materialId:{id}"},
			Tables: []string{"materials"}, Objects: true,
			Pages: Pages{Prefix: "sales:materials", Size: cache.PageSize, Count: 10}},
		{Name: "inventory_locations", Phase: PhaseHigh, TTL: cache.TTLReference,
			Keys: []string{"wms:locations:{t}:facilityId:{f}"}, Tables: []string{"facilities", "inventory_locations"}},
		{Name: "kit_definitions", Phase: PhaseHigh, TTL: cache.TTLReference,
			Keys: []string{"sales:kits:{t}"}, Tables: []string{"kit_definitions", "kit_components", "materials"}},
		{Name: "pricing_rules", Phase: PhaseHigh, TTL: cache.TTLReference,
			Keys: []string{"sales:pricing:{t}:effective:current"}, Tables: []string{"pricing_rules"}},

		// medium: aggregated and computed data.
		{Name: "trial_balance", Phase: PhaseMedium, TTL: cache.TTLAggregate,
			Keys:   []string{"finance:trial_balance:{t}:year:{Y}:month:{M}:currency:{C}"},
			Tables: []string{"tenants", "financial_periods", "gl_entries", "chart_of_accounts"}, Objects: true, List: true},
		{Name: "gl_balances", Phase: PhaseMedium, TTL: cache.TTLAggregate,
			Keys:   []string{"finance:gl_balances:{t}:year:{Y}:month:{M}"},
			Tables: []string{"financial_periods", "gl_entries", "chart_of_accounts"}, Objects: true, List: true},
		{Name: "bin_utilization", Phase: PhaseMedium, TTL: cache.TTLAggregate,
			Keys: []string{"wms:bin_utilization:{t}:facilityId:{f}"}, Tables: []string{"facilities", "bins"}},
		{Name: "equipment_health", Phase: PhaseMedium, TTL: cache.TTLAggregate,
			Keys: []string{"ops:equipment_health:{t}:facilityId:{f}:status:active"}, Tables: []string{"facilities", "equipment"}},
	}
}
