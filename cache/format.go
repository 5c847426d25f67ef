package cache

import (
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/internal/keyv"
)

// Format is how a value is stored in Redis, chosen to match the NestJS generation that reads it.
type Format uint8

const (
	// FormatJSON is the cache-manager 5 + cache-manager-redis-yet format: the JSON text of the
	// value itself, no envelope (what JSON.stringify writes). It is the default.
	FormatJSON Format = iota
	// FormatKeyv is the cache-manager 6/7 + @keyv/redis format: {"value":V,"expires":<epoch ms>}
	// serialised by @keyv/serialize (a string starting with ':' gets one more ':').
	FormatKeyv
)

// ParseFormat parses the CACHE_VALUE_FORMAT setting: "json" (or empty) or "keyv".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "json":
		return FormatJSON, nil
	case "keyv":
		return FormatKeyv, nil
	}
	return 0, fmt.Errorf("unknown value format %q: want json or keyv", s)
}

// String returns the setting name of f.
func (f Format) String() string {
	if f == FormatKeyv {
		return "keyv"
	}
	return "json"
}

// encode appends to dst the stored form of raw, a compact JSON text as JSON.stringify writes
// it: raw itself for FormatJSON, its keyv envelope expiring at expires for FormatKeyv.
func (f Format) encode(dst, raw []byte, expires time.Time) ([]byte, error) {
	if f != FormatKeyv {
		return append(dst, raw...), nil
	}
	return keyv.Encode(dst, raw, expires)
}

// decode returns the JSON text of the value inside stored, undoing encode; an expired keyv
// envelope gives an error wrapping keyv.ErrExpired.
func (f Format) decode(stored []byte) ([]byte, error) {
	if f != FormatKeyv {
		return stored, nil
	}
	return keyv.Decode(stored)
}
