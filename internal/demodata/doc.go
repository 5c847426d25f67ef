// Package demodata creates and loads the deterministic demo ERP schema that cachewarm's dataset
// queries (package sql) read: tenants, chart of accounts, financial periods, CRM stages,
// facilities with work centers, locations, bins and equipment, exchange rates, vendors,
// customers, materials, kits, pricing rules and GL entries.
//
// # Determinism
//
// The data of tenant k depends only on the seed and k (a PCG stream seeded with both), never on
// the number of tenants loaded, so tenant t002 is the same whether 2 or 1,000 tenants are seeded.
// Master data timestamps are fixed. The rows that must follow the calendar for the datasets to
// be non-empty are relative to "today" (UTC, [Options.Today]): financial periods (January of
// last year to December of next year, the month of today open), exchange rates (the 90 days up
// to today), pricing rule validity and GL entries (the two months before the current one up to
// today).
//
// # Tenant ids
//
// Tenant k (1-based) has the id [TenantID](k): "t" and k zero-padded to at least 3 digits, so
// t001 ... t999, then t1000, t1001 ... An id never depends on the number of tenants.
//
// # Loading
//
// [Seed] drops and re-creates the tables in the target schema (never any other schema), loads
// them with COPY over a few connections in batches of tenants (rows are generated per batch, so
// memory stays flat however many tenants are loaded), then adds the keys and indexes and runs
// ANALYZE.
//
// # Awkward values
//
// Some values are awkward on purpose so that value encoding is exercised: names with quotes,
// backslashes, control characters and non-ASCII text (vendor 2 of every tenant is
// `Müller & Söhne "GmbH"`), a material note ":special", NULLs in nullable columns, and a customer
// credit limit of 12345678901234.56.
package demodata
