// Package jobcontract is the one home of what a River job row of cachewarm must look like
// (kinds, queues, attempts, priorities, the phase order, the tenant id rule) and of the SQL
// functions that insert such rows from inside PostgreSQL (cachewarm.enqueue_warm and the
// others). Those functions are rendered from the constants here and installed by every
// `cachewarm migrate` (CREATE OR REPLACE), so SQL callers and Go callers cannot drift apart,
// and a fix to them needs no migration.
package jobcontract

import (
	_ "embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
)

// The job kinds. Kinds are permanent: they are stored in the job table and matched by name.
const (
	// KindWarmPhase is one phase of one tenant's workflow.
	KindWarmPhase = "cachewarm.warm_phase"
	// KindWarmDatasets re-warms some datasets of one tenant (changes, invalidation).
	KindWarmDatasets = "cachewarm.warm_datasets"
	// KindRefresh is a refresh-ahead fan-out.
	KindRefresh = "cachewarm.refresh"
	// KindReap finishes the workflows whose phase job was deleted or discarded.
	KindReap = "cachewarm.reap"
)

// Queues. Change-driven re-warms have a queue of their own so a full warm in progress never
// delays them.
const (
	// QueueWarm runs workflow phases and refresh fan-outs.
	QueueWarm = "warm"
	// QueueChange runs re-warms of datasets whose source rows changed.
	QueueChange = "change"
)

// MaxAttempts of a phase or dataset job. With the jobs' backoff the retries span about 90
// seconds, so a Redis or PostgreSQL outage of that length is ridden out.
const MaxAttempts = 8

// ChangePriority is the River priority of a dataset re-warm: the highest, as a committed
// change is what a reader is most likely to be waiting for.
const ChangePriority = 1

// TenantPattern is the tenant id rule as a PostgreSQL regular expression; it accepts exactly
// what [cache.ParseTenant] accepts.
var TenantPattern = fmt.Sprintf("^[A-Za-z0-9_-]{1,%d}$", cache.MaxTenantLen)

//go:embed functions.sql
var functionsTemplate string

// Functions returns the SQL that (re)creates the enqueueing functions in schema cachewarm,
// one CREATE OR REPLACE FUNCTION statement each, rendered from the constants of this package
// and the phases of package catalog.
func Functions() ([]string, error) {
	phases := make([]string, len(catalog.Phases))
	priorities := make([]string, len(catalog.Phases))
	for i, p := range catalog.Phases {
		phases[i], priorities[i] = string(p), fmt.Sprint(p.Priority())
	}
	tmpl, err := template.New("functions.sql").Delims("{{", "}}").Funcs(template.FuncMap{"lit": literal}).Parse(functionsTemplate)
	if err != nil {
		return nil, fmt.Errorf("job contract functions: %w", err)
	}
	var b strings.Builder
	err = tmpl.Execute(&b, map[string]any{
		"TenantPattern": TenantPattern, "MaxTenantLen": cache.MaxTenantLen,
		"KindWarmPhase": KindWarmPhase, "KindWarmDatasets": KindWarmDatasets,
		"QueueWarm": QueueWarm, "QueueChange": QueueChange,
		"MaxAttempts": MaxAttempts, "ChangePriority": ChangePriority,
		"Phases":     "ARRAY[" + strings.Join(mapStrings(phases, literal), ", ") + "]",
		"Priorities": "ARRAY[" + strings.Join(priorities, ", ") + "]",
		"PhaseList":  strings.Join(phases, ", "),
		// River's insert notification channel for schema cachewarm, and its payloads.
		"NotifyChannel": "cachewarm.river_insert",
	})
	if err != nil {
		return nil, fmt.Errorf("job contract functions: %w", err)
	}
	var out []string
	for _, stmt := range strings.Split(b.String(), "\n-- next\n") {
		if s := strings.TrimSpace(stmt); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// literal quotes s as a PostgreSQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}
