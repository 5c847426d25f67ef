// Package sql embeds the dataset queries: one .sql file per dataset of the catalog.
//
// Each query takes the tenant id as $1 and returns rows of three text columns:
//
//	prefix  the key's "{module}:{entity}", for example "sales:vendor"
//	suffix  the key's segments after the tenant id, for example "vendorId:17" ("" for none)
//	value   the value as compact JSON text, exactly as JSON.stringify writes what a NestJS app
//	        would cache from the same SQL through node-postgres
//
// The Go side puts the tenant between prefix and suffix (see cache.Keys.Join).
package sql

import "embed"

// FS holds the dataset queries, named <dataset>.sql.
//
//go:embed *.sql
var FS embed.FS
