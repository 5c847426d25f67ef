package pgjson_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/cachewarm/cachewarm/internal/pgjson"
	"github.com/cachewarm/cachewarm/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// values are rows of every supported type, edge cases included, as a VALUES list.
const values = `(VALUES
 (1::int2, 1::int4, 1::int8, 0.00::numeric(18,2), true, 'plain'::text, 'a'::varchar(5), 'b'::char(3), 'n'::name,
  '2025-01-02 03:04:05.678+00'::timestamptz, '2025-01-02'::date),
 ('-32768'::int2, '-2147483648'::int4, '-9223372036854775808'::int8, -12345678.90::numeric(18,2), false,
  E'quote " backslash \\ tab \t nl \n cr \r ff \f bs \b nul-ish \x01 \x1f del \x7f', 'ünï', 'ç ', 'x',
  '1999-12-31 23:59:59.999999+00'::timestamptz, '1999-12-31'::date),
 (32767::int2, 2147483647::int4, 9223372036854775807::int8, 0.0001::numeric, NULL,
  '€ 𝄞 <>&'' /', '', '', '', '2000-01-01 00:00:00+00'::timestamptz, '2000-01-01'::date),
 (NULL, NULL, NULL, 123456789012345678901234567890.123456789::numeric, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (0::int2, 0::int4, 0::int8, 'NaN'::numeric, true, 'x', 'y', 'z', 'w',
  '2031-07-15 22:10:00.5+02'::timestamptz, '2031-07-15'::date),
 (0::int2, 0::int4, 10000::int8, -0.5::numeric, true, 'x', 'y', 'z', 'w',
  '1970-01-01 00:00:00.001+00'::timestamptz, '0001-01-01'::date),
 (0::int2, 0::int4, 10000::int8, 10000.0001::numeric(20,6), true, 'x', 'y', 'z', 'w',
  '1970-01-01 00:00:00.001+00'::timestamptz, '2400-02-29'::date),
 (0::int2, 0::int4, 10000::int8, 100000000::numeric, true, 'x', 'y', 'z', 'w',
  '1970-01-01 00:00:00.001+00'::timestamptz, '2400-02-29'::date),
 (0::int2, 0::int4, 10000::int8, 0.000000012::numeric, true, 'x', 'y', 'z', 'w',
  '1970-01-01 00:00:00.001+00'::timestamptz, '2400-02-29'::date)
) AS v(s, i, b, n, f, t, vc, c, nm, ts, d)`

// typed returns the rows as PostgreSQL types; want is the same rows built the way the dataset
// queries used to build them (row_to_json over text casts), the reference the encoder must
// match byte for byte.
const (
	typed = `SELECT s AS "small", i AS "int", b AS "big", n AS "num", f AS "flag", t AS "text", vc AS "varChar",
		c AS "char", nm AS "name", ts AS "createdAt", d AS "day" FROM ` + values
	want = `SELECT row_to_json(x)::text FROM ` + values + ` CROSS JOIN LATERAL (
		SELECT s AS "small", i AS "int", b::text AS "big", n::text AS "num", f AS "flag", t AS "text", vc AS "varChar",
		c AS "char", nm AS "name",
		to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
		to_char(d, 'YYYY-MM-DD') AS "day") x`
)

func encodeAll(t *testing.T, pool *pgxpool.Pool, mode pgx.QueryExecMode) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	rows, err := conn.Query(ctx, typed, mode)
	require.NoError(t, err)
	defer rows.Close()
	enc, err := pgjson.NewEncoder(rows.FieldDescriptions(), conn.Conn().TypeMap())
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		b, err := enc.Append(nil, rows.RawValues())
		require.NoError(t, err)
		require.True(t, json.Valid(b), string(b))
		out = append(out, string(b))
	}
	require.NoError(t, rows.Err())
	return out
}

func TestEncoderMatchesRowToJSON(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	ctx := context.Background()
	rows, err := pool.Query(ctx, want)
	require.NoError(t, err)
	ref, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, ref, 9)

	// Binary results (the default) and text results (the simple protocol, as behind some
	// poolers) both give the reference bytes, in any session time zone.
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		require.Equal(t, ref, encodeAll(t, pool, mode), "mode %v", mode)
	}
	cfg := pool.Config()
	cfg.ConnConfig.RuntimeParams["timezone"] = "Asia/Kathmandu"
	other, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer other.Close()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		require.Equal(t, ref, encodeAll(t, other, mode), "mode %v in another time zone", mode)
	}
}

func TestEncoderRefusesTypesWithoutANodeForm(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	for _, expr := range []string{`1.5::float8`, `'2025-01-02 03:04:05'::timestamp`, `'{}'::jsonb`, `gen_random_uuid()`} {
		rows, err := pool.Query(context.Background(), `SELECT `+expr+` AS "x"`)
		require.NoError(t, err)
		_, err = pgjson.NewEncoder(rows.FieldDescriptions(), nil)
		rows.Close()
		require.ErrorContains(t, err, `column "x"`, expr)
		require.True(t, strings.Contains(err.Error(), "cast it in the query"), expr)
	}
}

func BenchmarkEncoder(b *testing.B) {
	pool := testenv.NewPool(b)
	ctx := context.Background()
	rows, err := pool.Query(ctx, typed)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := pgjson.NewEncoder(rows.FieldDescriptions(), nil)
	if err != nil {
		b.Fatal(err)
	}
	var all [][][]byte
	for rows.Next() {
		var row [][]byte
		for _, v := range rows.RawValues() {
			row = append(row, append([]byte(nil), v...))
		}
		all = append(all, row)
	}
	rows.Close()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		for _, row := range all {
			if buf, err = enc.Append(buf[:0], row); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(all)), "ns/row")
}

func TestAppendISOMatchesAppendFormat(t *testing.T) {
	t.Parallel()
	for _, ts := range []time.Time{
		time.Date(2025, 1, 2, 3, 4, 5, 678_999_999, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 30, 0, 1_000_000, time.UTC),
	} {
		want := `"` + ts.Format("2006-01-02T15:04:05.000Z") + `"`
		require.Equal(t, want, string(pgjson.AppendISO(nil, ts)), ts.String())
	}
}
