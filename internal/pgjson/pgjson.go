// Package pgjson encodes PostgreSQL result rows as JSON objects, byte for byte as
// JSON.stringify writes the rows node-postgres returns for the same query: one member per
// column, named by the column, in column order, with node-postgres's types (README, "Value types"):
//
//	text, varchar, char, name   JSON string (escaped as JSON.stringify does)
//	smallint, integer           JSON number
//	bigint, numeric             JSON string (node-postgres returns them as strings)
//	boolean                     true or false
//	timestamptz                 "2025-01-02T03:04:05.678Z" (UTC, milliseconds, truncated)
//	date                        "2025-01-02"
//	NULL                        null
//
// Other types are refused when the encoder is built, so a query never silently produces a
// value a NestJS reader would not have cached itself. Building the JSON here instead of with
// row_to_json and to_char in the query took about a third of a 1,000-tenant warm's CPU off
// the database (see docs/benchmarks.md).
package pgjson

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cachewarm/cachewarm/internal/jsjson"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Encoder encodes rows of one result. It is not safe for concurrent use.
type Encoder struct {
	cols []column
	tm   *pgtype.Map
}

type column struct {
	name   []byte // `"name":`, with the leading '{' or ','
	oid    uint32
	binary bool
	enc    func(e *Encoder, dst, src []byte, c *column) ([]byte, error)
}

// NewEncoder returns an Encoder for the columns fields (as a result's FieldDescriptions
// report them). tm decodes values sent in text format where that format depends on the
// session (timestamps, dates); pass the connection's type map (pgx.Conn.TypeMap).
func NewEncoder(fields []pgconn.FieldDescription, tm *pgtype.Map) (*Encoder, error) {
	e := &Encoder{cols: make([]column, len(fields)), tm: tm}
	for i, f := range fields {
		c := &e.cols[i]
		c.oid, c.binary = f.DataTypeOID, f.Format == pgtype.BinaryFormatCode
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		c.name = appendString(append([]byte(nil), sep), f.Name)
		c.name = append(c.name, ':')
		switch f.DataTypeOID {
		case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID:
			c.enc = encText
		case pgtype.Int2OID, pgtype.Int4OID:
			c.enc = encInt
		case pgtype.Int8OID:
			c.enc = encInt8
		case pgtype.NumericOID:
			c.enc = encNumeric
		case pgtype.BoolOID:
			c.enc = encBool
		case pgtype.TimestamptzOID: // not timestamp: node-postgres reads it in the reader's time zone
			c.enc = encTimestamp
		case pgtype.DateOID:
			c.enc = encDate
		default:
			return nil, fmt.Errorf("pgjson: column %q has type OID %d, which has no node-postgres JSON form here: cast it in the query", f.Name, f.DataTypeOID)
		}
	}
	return e, nil
}

// Append appends to dst the JSON object of one row, given the raw values of its columns (as
// pgx.Rows.RawValues returns them; nil is NULL).
func (e *Encoder) Append(dst []byte, values [][]byte) ([]byte, error) {
	if len(values) != len(e.cols) {
		return dst, fmt.Errorf("pgjson: %d values for %d columns", len(values), len(e.cols))
	}
	if len(e.cols) == 0 {
		return append(dst, "{}"...), nil
	}
	var err error
	for i := range e.cols {
		c := &e.cols[i]
		dst = append(dst, c.name...)
		if values[i] == nil {
			dst = append(dst, "null"...)
			continue
		}
		if dst, err = c.enc(e, dst, values[i], c); err != nil {
			return dst, fmt.Errorf("pgjson: column %s: %w", c.name[1:len(c.name)-1], err)
		}
	}
	return append(dst, '}'), nil
}

// AppendValue appends to dst the JSON of one value of column i (nil is null), as Append
// writes it inside an object.
func (e *Encoder) AppendValue(dst []byte, i int, src []byte) ([]byte, error) {
	if src == nil {
		return append(dst, "null"...), nil
	}
	c := &e.cols[i]
	return c.enc(e, dst, src, c)
}

var errLength = errors.New("unexpected binary length")

func encText(_ *Encoder, dst, src []byte, _ *column) ([]byte, error) {
	return appendStringBytes(dst, src), nil
}

// binaryInt decodes a big-endian integer of 2, 4 or 8 bytes.
func binaryInt(src []byte) (int64, error) {
	switch len(src) {
	case 2:
		return int64(int16(binary.BigEndian.Uint16(src))), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(src))), nil
	case 8:
		return int64(binary.BigEndian.Uint64(src)), nil
	}
	return 0, errLength
}

func encInt(_ *Encoder, dst, src []byte, c *column) ([]byte, error) {
	if !c.binary {
		return append(dst, src...), nil
	}
	n, err := binaryInt(src)
	if err != nil {
		return dst, err
	}
	return strconv.AppendInt(dst, n, 10), nil
}

func encInt8(e *Encoder, dst, src []byte, c *column) ([]byte, error) {
	dst = append(dst, '"')
	dst, err := encInt(e, dst, src, c)
	return append(dst, '"'), err
}

func encBool(_ *Encoder, dst, src []byte, c *column) ([]byte, error) {
	if len(src) != 1 {
		return dst, errLength
	}
	if src[0] == 1 || src[0] == 't' {
		return append(dst, "true"...), nil
	}
	return append(dst, "false"...), nil
}

func encNumeric(e *Encoder, dst, src []byte, c *column) ([]byte, error) {
	dst = append(dst, '"')
	if !c.binary {
		return append(append(dst, src...), '"'), nil
	}
	dst, err := appendBinaryNumeric(dst, src)
	return append(dst, '"'), err
}

// pgEpoch is where PostgreSQL's binary timestamps and dates count from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func encTimestamp(e *Encoder, dst, src []byte, c *column) ([]byte, error) {
	t, err := e.timeOf(c, src)
	if err != nil {
		return dst, err
	}
	return appendISO(dst, t.UTC()), nil
}

func encDate(e *Encoder, dst, src []byte, c *column) ([]byte, error) {
	t, err := e.timeOf(c, src)
	if err != nil {
		return dst, err
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, "2006-01-02")
	return append(dst, '"'), nil
}

// timeOf decodes a timestamptz or date value. In binary format it is a count from pgEpoch
// (microseconds, or days for a date); in text format, whose form depends on the session's
// DateStyle and TimeZone, pgx's own codec reads it.
func (e *Encoder) timeOf(c *column, src []byte) (time.Time, error) {
	var t time.Time
	if !c.binary {
		return e.scanTextTime(c, src)
	}
	n, err := binaryInt(src)
	if err != nil {
		return t, err
	}
	if c.oid == pgtype.DateOID {
		if n == math.MaxInt32 || n == math.MinInt32 {
			return t, errors.New("infinite date")
		}
		return pgEpoch.AddDate(0, 0, int(n)), nil
	}
	if n == math.MaxInt64 || n == math.MinInt64 {
		return t, errors.New("infinite timestamp")
	}
	return pgEpoch.Add(time.Duration(n) * time.Microsecond), nil
}

// scanTextTime is timeOf for text format. It is a function of its own so that the time it
// scans into escapes to the heap only here, not on timeOf's binary path.
func (e *Encoder) scanTextTime(c *column, src []byte) (time.Time, error) {
	var t time.Time
	if e.tm == nil {
		return t, errors.New("text format needs a type map")
	}
	err := e.tm.Scan(c.oid, pgtype.TextFormatCode, src, &t)
	return t, err
}

// appendISO appends t (in UTC) as Date.prototype.toJSON writes it, in quotes:
// "2025-01-02T03:04:05.678Z". It is time.Time.AppendFormat unrolled for the hot path.
func appendISO(dst []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z")
		return append(dst, '"')
	}
	h, mi, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	dst = append(dst, '"')
	dst = append4(dst, y)
	dst = append(dst, '-', byte('0'+mo/10), byte('0'+mo%10), '-', byte('0'+d/10), byte('0'+d%10),
		'T', byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+sec/10), byte('0'+sec%10),
		'.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z', '"')
	return dst
}

// appendBinaryNumeric appends the text form of a numeric in PostgreSQL's binary format, as
// numeric_out writes it: every digit of the value's scale, no exponent.
func appendBinaryNumeric(dst, src []byte) ([]byte, error) {
	if len(src) < 8 {
		return dst, errLength
	}
	ndigits := int(binary.BigEndian.Uint16(src))
	weight := int(int16(binary.BigEndian.Uint16(src[2:])))
	sign := binary.BigEndian.Uint16(src[4:])
	dscale := int(binary.BigEndian.Uint16(src[6:]))
	if len(src) != 8+2*ndigits {
		return dst, errLength
	}
	switch sign {
	case 0xC000:
		return append(dst, "NaN"...), nil
	case 0xD000:
		return append(dst, "Infinity"...), nil
	case 0xF000:
		return append(dst, "-Infinity"...), nil
	case 0x4000:
		dst = append(dst, '-')
	}
	digit := func(i int) int { // base-10000 digit i, 0 past the stored ones
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(src[8+2*i:]))
	}
	// The integer part: base-10000 digits 0..weight.
	if weight < 0 {
		dst = append(dst, '0')
	} else {
		dst = strconv.AppendInt(dst, int64(digit(0)), 10)
		for i := 1; i <= weight; i++ {
			dst = append4(dst, digit(i))
		}
	}
	if dscale == 0 {
		return dst, nil
	}
	dst = append(dst, '.')
	for i, written := weight+1, 0; written < dscale; i++ {
		d := digit(i)
		for _, div := range [4]int{1000, 100, 10, 1} {
			if written == dscale {
				break
			}
			dst = append(dst, byte('0'+d/div%10))
			written++
		}
	}
	return dst, nil
}

// append4 appends d (0..9999) as four digits.
func append4(dst []byte, d int) []byte {
	return append(dst, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
}

// appendString appends s as a JSON string, escaped as JSON.stringify escapes it.
func appendString(dst []byte, s string) []byte {
	return jsjson.AppendString(dst, []byte(s))
}

// appendStringBytes appends s, PostgreSQL text, as a JSON string (see jsjson.AppendString).
func appendStringBytes(dst, s []byte) []byte { return jsjson.AppendString(dst, s) }
