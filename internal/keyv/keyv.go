// Package keyv reads and writes the envelope in which cache-manager 6/7 with @keyv/redis stores
// a value, {"value":V,"expires":<epoch ms>}, byte for byte as @keyv/serialize 1.x writes it.
package keyv

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cachewarm/cachewarm/internal/jsjson"
)

// ErrExpired is returned (wrapped) by [Decode] for an envelope whose "expires" has passed:
// keyv readers treat such a value as missing.
var ErrExpired = errors.New("keyv value expired")

// ErrNotEnvelope is returned (wrapped) by [Decode] when a stored value is not an envelope with
// a "value" member (keyv readers see such a value as missing).
var ErrNotEnvelope = errors.New("not a keyv envelope")

// Encode appends to dst the envelope of raw, a compact JSON text as JSON.stringify writes it,
// exactly as @keyv/serialize 1.x writes {value: JSON.parse(raw), expires}: string values (not
// member names) that start with ':' get one more ':', and the value is otherwise re-serialised
// as JSON.stringify would (see package jsjson). expires is the absolute expiry the envelope
// records; the zero time leaves "expires" out, as keyv does for a value without TTL. A raw text
// already in that form, the usual case, is copied in one pass. On a syntax error in raw, dst is
// returned unchanged with the error.
func Encode(dst, raw []byte, expires time.Time) ([]byte, error) {
	start := len(dst)
	dst = append(dst, `{"value":`...)
	dst, err := jsjson.Append(dst, raw, jsjson.KeyvEscape)
	if err != nil {
		return dst[:start], fmt.Errorf("encode keyv value: %w", err)
	}
	if !expires.IsZero() {
		dst = append(dst, `,"expires":`...)
		dst = strconv.AppendInt(dst, expires.UnixMilli(), 10)
	}
	return append(dst, '}'), nil
}

// Decode returns the JSON text of the value inside the envelope stored, undoing Encode, as
// @keyv/serialize's deserializer and keyv read it: an "expires" in the past gives an error
// wrapping [ErrExpired]; string values lose one leading ':'; a string starting with ":base64:"
// (a Node.js Buffer) becomes the plain base64 string, which encoding/json decodes into a
// []byte. The result may share memory with stored.
func Decode(stored []byte) ([]byte, error) { return DecodeAt(stored, time.Now()) }

// DecodeAt is [Decode] with now as the current time.
func DecodeAt(stored []byte, now time.Time) ([]byte, error) {
	value, expires, hasExpires, ok := splitEnvelope(stored)
	var err error
	if !ok {
		value, expires, hasExpires, err = parseEnvelope(stored)
	}
	if err != nil {
		return nil, fmt.Errorf("decode keyv envelope: %w", err)
	}
	if hasExpires && float64(now.UnixMilli()) > expires {
		return nil, fmt.Errorf("decode keyv envelope: %w", ErrExpired)
	}
	if !mayHaveColonValue(value) {
		return value, nil
	}
	out, err := jsjson.Append(make([]byte, 0, len(value)), value, jsjson.KeyvUnescape)
	if err != nil {
		return nil, fmt.Errorf("decode keyv value: %w", err)
	}
	return out, nil
}

// splitEnvelope takes apart the envelope keyv writes, {"value":V,"expires":N} or
// {"value":V}, without scanning V: V is a complete JSON value, so it cannot end in
// ,"expires":N and the split is unambiguous. V itself is checked by whoever parses it. ok is
// false for any other shape (then parseEnvelope decides).
func splitEnvelope(s []byte) (value []byte, expires float64, hasExpires, ok bool) {
	const head, tail = `{"value":`, `,"expires":`
	n := len(s)
	if n < len(head)+2 || !bytes.HasPrefix(s, []byte(head)) || s[n-1] != '}' {
		return nil, 0, false, false
	}
	end := n - 1
	j := end
	for j > 0 && s[j-1] >= '0' && s[j-1] <= '9' {
		j--
	}
	if j < end && j-len(tail) > len(head) && string(s[j-len(tail):j]) == tail {
		ms, err := strconv.ParseInt(string(s[j:end]), 10, 64)
		if err != nil {
			return nil, 0, false, false
		}
		return s[len(head) : j-len(tail)], float64(ms), true, true
	}
	if end == len(head) {
		return nil, 0, false, false
	}
	return s[len(head):end], 0, false, true
}

// parseEnvelope finds the "value" member's JSON text and the "expires" number of a keyv
// envelope. Repeated members keep their last occurrence, as JSON.parse does.
func parseEnvelope(s []byte) (value []byte, expires float64, hasExpires bool, err error) {
	i := jsjson.SkipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return nil, 0, false, ErrNotEnvelope
	}
	i = jsjson.SkipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return nil, 0, false, ErrNotEnvelope
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return nil, 0, false, &jsjson.SyntaxError{Offset: i}
		}
		ks := i
		if i, err = jsjson.SkipValue(s, i); err != nil {
			return nil, 0, false, err
		}
		name := s[ks:i]
		i = jsjson.SkipSpace(s, i)
		if i >= len(s) || s[i] != ':' {
			return nil, 0, false, &jsjson.SyntaxError{Offset: i}
		}
		vs := jsjson.SkipSpace(s, i+1)
		if i, err = jsjson.SkipValue(s, vs); err != nil {
			return nil, 0, false, err
		}
		switch string(name) {
		case `"value"`:
			value = s[vs:i]
		case `"expires"`:
			hasExpires = false
			if n, perr := strconv.ParseFloat(string(s[vs:i]), 64); perr == nil {
				expires, hasExpires = n, true
			}
		}
		i = jsjson.SkipSpace(s, i)
		if i < len(s) && s[i] == ',' {
			i = jsjson.SkipSpace(s, i+1)
			continue
		}
		if i < len(s) && s[i] == '}' {
			break
		}
		return nil, 0, false, &jsjson.SyntaxError{Offset: i}
	}
	if jsjson.SkipSpace(s, i+1) != len(s) {
		return nil, 0, false, &jsjson.SyntaxError{Offset: i + 1}
	}
	if value == nil {
		return nil, 0, false, ErrNotEnvelope
	}
	return value, expires, hasExpires, nil
}

// mayHaveColonValue reports whether JSON text s may hold a string value starting with ':',
// which is an opening quote directly followed by ':' and preceded (spaces aside) by '[', ',',
// ':' or nothing. It can answer true for a member name (harmless: the caller then rewrites);
// it never answers false for a value.
func mayHaveColonValue(s []byte) bool {
	for j := 0; ; {
		k := bytes.Index(s[j:], []byte(`":`))
		if k < 0 {
			return false
		}
		k += j
		p := k - 1
		for p >= 0 && isSpace(s[p]) {
			p--
		}
		if p < 0 || s[p] == '[' || s[p] == ',' || s[p] == ':' {
			return true
		}
		j = k + 1
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
