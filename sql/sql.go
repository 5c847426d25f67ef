// Package sql embeds the dataset queries: one .sql file per dataset of the catalog.
//
// Each query takes the tenant id as $1 and returns rows of three text columns:
//
//	prefix  the key's "{module}:{entity}", for example "sales:vendor"
//	suffix  the key's segments after the tenant id, for example "vendorId:17" ("" for none)
//	value   the value as compact JSON text, exactly as JSON.stringify writes what a NestJS app
//	        would cache from the same SQL through node-postgres
//
// or, for a dataset marked Objects in the catalog, prefix and suffix followed by the value's
// members as typed columns named as the JSON keys (package pgjson encodes them; see below).
//
// The Go side puts the tenant between prefix and suffix (see cache.Keys.Join). Each query is run
// wrapped as a subquery, SELECT ... FROM (<query>) q, so it has no trailing semicolon and its
// comments are whole lines at the top. It filters every table on tenant_id = $1::text and names
// tables unqualified, so they resolve through the connection's search_path.
//
// # Writing a value
//
// Values are built in SQL so that they are byte-identical to JSON.stringify of the rows
// node-postgres returns: an object is row_to_json of a row of camelCase aliases; a list is
// '[' || string_agg(row_to_json(x)::text, ',' ORDER BY ...) || ']' wrapped in coalesce(..., '[]')
// (json_agg, jsonb and json_build_object would add whitespace or reorder keys); a nested list is
// such text cast to json. Columns are cast as node-postgres would return them: bigint and numeric
// ::text (JSON strings), timestamptz with to_char(ts AT TIME ZONE 'UTC',
// 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), date with to_char(d, 'YYYY-MM-DD'); integer and boolean
// as they are. "Today" is (now() AT TIME ZONE 'UTC')::date.
//
// # Objects and pages
//
// Building JSON is most of the database's work in a warm. Where a dataset's values are plain
// objects, one per row (vendors, customers, materials), the query returns the columns as they
// are, aliased to their JSON names, and the warmer encodes them (package pgjson, which follows
// the same node-postgres rules and refuses types it has no rule for). Where a dataset also has
// list pages of those objects, the query yields the items only, ordered as the pages list them,
// and the warmer assembles the pages from the same bytes (catalog.Pages).
package sql

import "embed"

// FS holds the dataset queries, named <dataset>.sql.
//
//go:embed *.sql
var FS embed.FS
