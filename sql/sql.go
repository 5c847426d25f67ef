// Package sql embeds the demo's datasets directory: one file per dataset, <name>.sql, and
// tenants.sql, which says which tenants are active.
//
// A dataset file is a header of "-- field: value" lines (phase, ttl, tables, tenant-column,
// key, value, pages), then the query, which takes the tenant id as $1. Package catalog parses
// them; docs/datasets.md describes the format, and CACHEWARM_DATASETS_DIR
// replaces this directory with the user's own.
//
// Values are byte-identical to JSON.stringify of the rows node-postgres returns: with value
// object or list, the query returns typed columns aliased to their JSON names and the warmer
// encodes them (package pgjson, which refuses types it has no rule for); with value json, the
// query builds the JSON text itself (row_to_json and string_agg, bigint and numeric ::text,
// timestamps with to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')). "Today" is
// (now() AT TIME ZONE 'UTC')::date.
package sql

import "embed"

// FS holds the demo datasets directory: <dataset>.sql files and tenants.sql.
//
//go:embed *.sql
var FS embed.FS
