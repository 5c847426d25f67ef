package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// eventDatasets maps the original design's domain events, by entity, to the demo datasets
// they make stale. An event is ENTITY_ACTION, e.g. ACCOUNT_CREATED, VENDOR_UPDATED, PERIOD_CLOSED.
var eventDatasets = map[string][]string{
	"ACCOUNT":       {"chart_of_accounts", "trial_balance", "gl_balances"},
	"PERIOD":        {"financial_periods", "current_period", "trial_balance", "gl_balances"},
	"JOURNAL":       {"trial_balance", "gl_balances"},
	"GL_ENTRY":      {"trial_balance", "gl_balances"},
	"EXCHANGE_RATE": {"exchange_rates"},
	"STAGE":         {"pipeline_stages"},
	"PIPELINE":      {"pipeline_stages"},
	"WORK_CENTER":   {"work_centers"},
	"FACILITY":      {"work_centers", "inventory_locations", "bin_utilization", "equipment_health"},
	"VENDOR":        {"vendors"},
	"CUSTOMER":      {"customers"},
	"MATERIAL":      {"materials"},
	"LOCATION":      {"inventory_locations", "bin_utilization"},
	"BIN":           {"bin_utilization"},
	"KIT":           {"kit_definitions"},
	"PRICING_RULE":  {"pricing_rules"},
	"PRICE":         {"pricing_rules"},
	"EQUIPMENT":     {"equipment_health"},
	"TENANT":        nil, // every dataset
}

var eventActions = []string{"CREATED", "UPDATED", "DELETED", "CLOSED", "OPENED", "POSTED", "CHANGED", "IMPORTED"}

// EventDatasets returns the datasets an event makes stale (every dataset for TENANT_*). An
// unknown event is an error naming the accepted form.
func (c *Catalog) EventDatasets(event string) ([]string, error) {
	i := strings.LastIndexByte(event, '_')
	if i <= 0 || !slices.Contains(eventActions, event[i+1:]) {
		return nil, fmt.Errorf("unknown event %q: want ENTITY_ACTION with ACTION one of %s", event, strings.Join(eventActions, ", "))
	}
	ds, ok := eventDatasets[event[:i]]
	if !ok {
		entities := make([]string, 0, len(eventDatasets))
		for e := range eventDatasets {
			entities = append(entities, e)
		}
		slices.Sort(entities)
		return nil, fmt.Errorf("unknown event %q: entity %s is not one of %s", event, event[:i], strings.Join(entities, ", "))
	}
	if ds == nil {
		return c.Names(), nil
	}
	// The map names the demo's datasets: keep those this catalog has.
	var out []string
	for _, d := range ds {
		if _, ok := c.byName[d]; ok {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("event %q names datasets this catalog does not have (%s): invalidate by tenant and dataset instead", event, strings.Join(ds, ", "))
	}
	return out, nil
}
