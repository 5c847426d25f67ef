package demodata

import (
	"math/big"

	"github.com/jackc/pgx/v5/pgtype"
)

// tableID indexes the demo tables, in creation and load order.
type tableID int

const (
	tTenants tableID = iota
	tAccounts
	tPeriods
	tStages
	tFacilities
	tWorkCenters
	tRates
	tVendors
	tCustomers
	tMaterials
	tLocations
	tBins
	tEquipment
	tKits
	tKitComponents
	tPricingRules
	tGLEntries
	numTables
)

// tableSpec names a table and the columns its generated rows fill, in schema.sql order.
type tableSpec struct {
	name    string
	columns []string
}

// tableSpecs returns every demo table, indexed by tableID. The column lists match schema.sql.
func tableSpecs() [numTables]tableSpec {
	return [numTables]tableSpec{
		tTenants: {"tenants", []string{"id", "name", "base_currency", "country", "active", "created_at", "updated_at"}},
		tAccounts: {"chart_of_accounts", []string{"tenant_id", "id", "code", "name", "account_type", "normal_balance",
			"parent_code", "level", "is_postable", "currency", "is_active", "description", "created_at", "updated_at"}},
		tPeriods: {"financial_periods", []string{"tenant_id", "id", "fiscal_year", "period_number", "name",
			"start_date", "end_date", "status", "closed_at", "created_at", "updated_at"}},
		tStages: {"crm_pipeline_stages", []string{"tenant_id", "id", "name", "position", "probability", "is_won",
			"is_lost", "color", "created_at", "updated_at"}},
		tFacilities: {"facilities", []string{"tenant_id", "id", "code", "name", "facility_type", "city", "country",
			"timezone", "is_active", "created_at", "updated_at"}},
		tWorkCenters: {"work_centers", []string{"tenant_id", "id", "facility_id", "code", "name", "center_type",
			"capacity_per_hour", "efficiency_pct", "cost_per_hour", "is_active", "created_at", "updated_at"}},
		tRates: {"exchange_rates", []string{"tenant_id", "id", "from_currency", "to_currency", "rate", "rate_date",
			"source", "created_at"}},
		tVendors: {"vendors", []string{"tenant_id", "id", "code", "name", "legal_name", "tax_id", "email", "phone",
			"country", "currency", "payment_terms_days", "credit_limit", "rating", "is_active", "notes",
			"created_at", "updated_at"}},
		tCustomers: {"customers", []string{"tenant_id", "id", "code", "name", "email", "phone", "country", "currency",
			"segment", "credit_limit", "balance", "payment_terms_days", "is_active", "notes", "created_at", "updated_at"}},
		tMaterials: {"materials", []string{"tenant_id", "id", "sku", "name", "description", "category", "uom",
			"standard_cost", "list_price", "weight_kg", "is_stocked", "is_active", "notes", "created_at", "updated_at"}},
		tLocations: {"inventory_locations", []string{"tenant_id", "id", "facility_id", "code", "name", "location_type",
			"parent_id", "is_pickable", "is_active", "created_at", "updated_at"}},
		tBins: {"bins", []string{"tenant_id", "id", "facility_id", "location_id", "code", "capacity_units",
			"used_units", "status", "last_counted_at", "created_at", "updated_at"}},
		tEquipment: {"equipment", []string{"tenant_id", "id", "facility_id", "work_center_id", "code", "name",
			"equipment_type", "manufacturer", "status", "health_score", "operating_hours", "installed_on",
			"last_maintenance_at", "next_maintenance_on", "created_at", "updated_at"}},
		tKits: {"kit_definitions", []string{"tenant_id", "id", "code", "name", "description", "kit_price",
			"is_active", "created_at", "updated_at"}},
		tKitComponents: {"kit_components", []string{"tenant_id", "kit_id", "line_no", "material_id", "quantity",
			"is_optional", "created_at"}},
		tPricingRules: {"pricing_rules", []string{"tenant_id", "id", "name", "rule_type", "material_id", "customer_id",
			"min_quantity", "value", "currency", "priority", "valid_from", "valid_to", "is_active", "created_at", "updated_at"}},
		tGLEntries: {"gl_entries", []string{"tenant_id", "id", "journal_id", "line_no", "entry_date", "period_id",
			"account_id", "debit", "credit", "currency", "source", "description", "created_at"}},
	}
}

// rowSet holds generated rows per table until they are copied.
type rowSet [numTables][][]any

// add appends one row to table t.
func (s *rowSet) add(t tableID, values ...any) { s[t] = append(s[t], values) }

// reset empties every table, keeping the capacity for the next batch.
func (s *rowSet) reset() {
	for i := range s {
		clear(s[i])
		s[i] = s[i][:0]
	}
}

// decimal is an exact fixed-point number, units × 10^-scale, encoded as a PostgreSQL numeric.
type decimal struct {
	units int64
	scale int32
}

// NumericValue implements pgtype.NumericValuer.
func (d decimal) NumericValue() (pgtype.Numeric, error) {
	return pgtype.Numeric{Int: big.NewInt(d.units), Exp: -d.scale, Valid: true}, nil
}

// cents returns the decimal with two places for an amount in hundredths.
func cents(v int64) decimal { return decimal{units: v, scale: 2} }

// micros returns the decimal with six places for an amount in millionths.
func micros(v int64) decimal { return decimal{units: v, scale: 6} }
