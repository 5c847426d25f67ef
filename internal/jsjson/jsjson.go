// Package jsjson rewrites JSON text as JavaScript would write it back after JSON.parse: member
// order as JavaScript enumerates it (array-index names first, in ascending order, then the
// others in first-seen order; a repeated name keeps its first place and its last value),
// numbers in JavaScript's shortest form, strings with JSON.stringify's escapes. A text already
// in that form, the usual case, is copied in one streaming pass.
//
// A [Mode] adds the string rule of @keyv/serialize, which NestJS's cache-manager 6/7 applies to
// string values (never to member names).
package jsjson

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Append appends to dst the rewrite of src, a JSON text holding one value (spaces around it
// allowed), under mode. On a syntax error the error is a *[SyntaxError] and dst may hold part of
// the output: callers keep their own length to cut it back.
func Append(dst, src []byte, mode Mode) ([]byte, error) {
	w := jsWriter{src: src, mode: mode}
	return w.document(dst)
}

// SyntaxError reports invalid JSON at a byte offset of the source.
type SyntaxError struct {
	// Offset is where the source stops being JSON.
	Offset int
}

// Error implements error.
func (e *SyntaxError) Error() string { return "invalid JSON at offset " + strconv.Itoa(e.Offset) }

func errSyntax(off int) error { return &SyntaxError{Offset: off} }

// SkipSpace returns the offset of the first byte of s from i on that is not JSON white space.
func SkipSpace(s []byte, i int) int { return skipSpace(s, i) }

// SkipValue returns the offset just after the JSON value that starts at s[i] (no leading
// space), checking its syntax as it goes.
func SkipValue(s []byte, i int) (int, error) { return skipValue(s, i, 0) }

// Mode selects the string rule applied to string values.
type Mode uint8

const (
	// Stringify re-serialises as JSON.stringify(JSON.parse(text)).
	Stringify Mode = iota
	// KeyvEscape is @keyv/serialize's defaultSerialize: a string value starting with ':' gets one
	// more ':'.
	KeyvEscape
	// KeyvUnescape is @keyv/serialize's defaultDeserialize reviver: a string value starting with
	// ':' loses one, and one starting with ":base64:" (a Node.js Buffer) becomes the plain base64
	// text.
	KeyvUnescape
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// maxFastKeys is the most members an object may have for the streaming path's pairwise
// duplicate-name check; larger objects take the sorting path.
const maxFastKeys = 64

// jsWriter re-serialises JSON text as JavaScript would after JSON.parse, in one streaming pass
// for the common case. Objects whose member order JavaScript would change (array-index names,
// repeated names) or whose names carry escapes or non-ASCII are rewritten through slowObject.
type jsWriter struct {
	src   []byte
	i     int
	mode  Mode
	depth int
	keys  [][]byte // raw names of the members of the objects being written (stack discipline)
	buf   [16][]byte
}

// document writes the single JSON value that src holds (spaces around it allowed).
func (w *jsWriter) document(dst []byte) ([]byte, error) {
	w.keys = w.buf[:0]
	w.i = skipSpace(w.src, w.i)
	dst, err := w.value(dst, true)
	if err != nil {
		return dst, err
	}
	if w.i = skipSpace(w.src, w.i); w.i != len(w.src) {
		return dst, errSyntax(w.i)
	}
	return dst, nil
}

// value writes the value at w.i (no leading space) and leaves w.i after it. isValue is false
// for member names, which keep their text (no colon rule).
func (w *jsWriter) value(dst []byte, isValue bool) ([]byte, error) {
	s := w.src
	if w.i >= len(s) {
		return dst, errSyntax(w.i)
	}
	switch c := s[w.i]; {
	case c == '"':
		return w.str(dst, isValue)
	case c == '{':
		return w.object(dst)
	case c == '[':
		return w.array(dst)
	case c == '-' || c >= '0' && c <= '9':
		return w.number(dst)
	case c == 't':
		return w.literal(dst, "true")
	case c == 'f':
		return w.literal(dst, "false")
	case c == 'n':
		return w.literal(dst, "null")
	}
	return dst, errSyntax(w.i)
}

func (w *jsWriter) literal(dst []byte, lit string) ([]byte, error) {
	if !bytes.HasPrefix(w.src[w.i:], []byte(lit)) {
		return dst, errSyntax(w.i)
	}
	w.i += len(lit)
	return append(dst, lit...), nil
}

func (w *jsWriter) enter() error {
	if w.depth++; w.depth > maxDepth {
		return fmt.Errorf("JSON nested deeper than %d at offset %d", maxDepth, w.i)
	}
	return nil
}

func (w *jsWriter) array(dst []byte) ([]byte, error) {
	if err := w.enter(); err != nil {
		return dst, err
	}
	defer func() { w.depth-- }()
	s := w.src
	dst = append(dst, '[')
	w.i = skipSpace(s, w.i+1)
	if w.i < len(s) && s[w.i] == ']' {
		w.i++
		return append(dst, ']'), nil
	}
	for {
		var err error
		if dst, err = w.value(dst, true); err != nil {
			return dst, err
		}
		w.i = skipSpace(s, w.i)
		if w.i >= len(s) {
			return dst, errSyntax(w.i)
		}
		switch s[w.i] {
		case ',':
			dst = append(dst, ',')
			w.i = skipSpace(s, w.i+1)
		case ']':
			w.i++
			return append(dst, ']'), nil
		default:
			return dst, errSyntax(w.i)
		}
	}
}

func (w *jsWriter) object(dst []byte) ([]byte, error) {
	if err := w.enter(); err != nil {
		return dst, err
	}
	defer func() { w.depth-- }()
	s := w.src
	srcStart, dstStart, base := w.i, len(dst), len(w.keys)
	defer func() { w.keys = w.keys[:base] }()
	dst = append(dst, '{')
	w.i = skipSpace(s, w.i+1)
	if w.i < len(s) && s[w.i] == '}' {
		w.i++
		return append(dst, '}'), nil
	}
	for {
		if w.i >= len(s) || s[w.i] != '"' {
			return dst, errSyntax(w.i)
		}
		name, ok := plainName(s, w.i)
		if ok && len(w.keys)-base < maxFastKeys {
			for _, k := range w.keys[base:] {
				if bytes.Equal(k, name) {
					ok = false
					break
				}
			}
		} else {
			ok = false
		}
		if !ok {
			w.i = srcStart
			w.keys = w.keys[:base]
			return w.slowObject(dst[:dstStart])
		}
		w.keys = append(w.keys, name)
		dst = append(dst, s[w.i:w.i+len(name)+2]...)
		w.i = skipSpace(s, w.i+len(name)+2)
		if w.i >= len(s) || s[w.i] != ':' {
			return dst, errSyntax(w.i)
		}
		dst = append(dst, ':')
		w.i = skipSpace(s, w.i+1)
		var err error
		if dst, err = w.value(dst, true); err != nil {
			return dst, err
		}
		w.i = skipSpace(s, w.i)
		if w.i >= len(s) {
			return dst, errSyntax(w.i)
		}
		switch s[w.i] {
		case ',':
			dst = append(dst, ',')
			w.i = skipSpace(s, w.i+1)
		case '}':
			w.i++
			return append(dst, '}'), nil
		default:
			return dst, errSyntax(w.i)
		}
	}
}

// plainName returns the text of the member name whose opening quote is at s[i] when it can be
// copied as it is and keeps its place: printable ASCII without escapes, not an array index.
func plainName(s []byte, i int) ([]byte, bool) {
	j := i + 1
	for j < len(s) {
		c := s[j]
		if c == '"' {
			name := s[i+1 : j]
			return name, !isArrayIndex(name)
		}
		if c < 0x20 || c == '\\' || c >= 0x80 {
			return nil, false
		}
		j++
	}
	return nil, false
}

// isArrayIndex reports whether name is a canonical array index (0 to 2^32-2), which JavaScript
// enumerates before every other member name, in ascending order.
func isArrayIndex(name []byte) bool {
	if len(name) == 0 || len(name) > 10 || name[0] == '0' && len(name) > 1 {
		return false
	}
	var n uint64
	for _, c := range name {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + uint64(c-'0')
	}
	return n <= math.MaxUint32-1
}

// slowObject writes the object at w.i with JavaScript's member order and duplicate rule.
func (w *jsWriter) slowObject(dst []byte) ([]byte, error) {
	type member struct {
		name  string // canonical quoted form
		index int64  // array index, or -1
		value []byte
	}
	s := w.src
	var members []member
	pos := map[string]int{}
	w.i = skipSpace(s, w.i+1)
	if w.i < len(s) && s[w.i] == '}' {
		w.i++
		return append(dst, "{}"...), nil
	}
	for {
		if w.i >= len(s) || s[w.i] != '"' {
			return dst, errSyntax(w.i)
		}
		nb, err := w.str(nil, false)
		if err != nil {
			return dst, err
		}
		w.i = skipSpace(s, w.i)
		if w.i >= len(s) || s[w.i] != ':' {
			return dst, errSyntax(w.i)
		}
		w.i = skipSpace(s, w.i+1)
		vb, err := w.value(nil, true)
		if err != nil {
			return dst, err
		}
		name := string(nb)
		if p, dup := pos[name]; dup {
			members[p].value = vb
		} else {
			idx := int64(-1)
			if inner := nb[1 : len(nb)-1]; isArrayIndex(inner) {
				idx, _ = strconv.ParseInt(string(inner), 10, 64)
			}
			pos[name] = len(members)
			members = append(members, member{name: name, index: idx, value: vb})
		}
		w.i = skipSpace(s, w.i)
		if w.i >= len(s) {
			return dst, errSyntax(w.i)
		}
		if s[w.i] == ',' {
			w.i = skipSpace(s, w.i+1)
			continue
		}
		if s[w.i] != '}' {
			return dst, errSyntax(w.i)
		}
		w.i++
		break
	}
	// Array indices first, ascending; the rest keep insertion order (a stable sort).
	sortMembers(len(members), func(a, b int) bool {
		ia, ib := members[a].index, members[b].index
		return ia >= 0 && (ib < 0 || ia < ib)
	}, func(a, b int) { members[a], members[b] = members[b], members[a] })
	dst = append(dst, '{')
	for k, m := range members {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m.name...)
		dst = append(dst, ':')
		dst = append(dst, m.value...)
	}
	return append(dst, '}'), nil
}

// sortMembers is a stable insertion sort (objects on this path are small).
func sortMembers(n int, less func(a, b int) bool, swap func(a, b int)) {
	for i := 1; i < n; i++ {
		for j := i; j > 0 && less(j, j-1); j-- {
			swap(j, j-1)
		}
	}
}

// number writes the number at w.i as JavaScript prints the double JSON.parse makes of it.
func (w *jsWriter) number(dst []byte) ([]byte, error) {
	s := w.src
	start := w.i
	j := start
	if s[j] == '-' {
		j++
	}
	plainInt := true
	switch {
	case j < len(s) && s[j] == '0':
		j++
	case j < len(s) && s[j] >= '1' && s[j] <= '9':
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	default:
		return dst, errSyntax(j)
	}
	if j < len(s) && s[j] == '.' {
		plainInt = false
		j++
		k := j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == k {
			return dst, errSyntax(j)
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		plainInt = false
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == k {
			return dst, errSyntax(j)
		}
	}
	w.i = j
	lit := s[start:j]
	digits := len(lit)
	if lit[0] == '-' {
		digits--
	}
	// An integer of at most 15 digits is exact in a double and printed as written, except -0.
	if plainInt && digits <= 15 && !(lit[0] == '-' && lit[1] == '0') {
		return append(dst, lit...), nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return dst, errSyntax(start)
	}
	return appendJSNumber(dst, f), nil
}

// appendJSNumber appends f as JavaScript's Number.prototype.toString (and so JSON.stringify)
// prints it: shortest round-trip digits, exponent form below 1e-6 and from 1e21, "null" for
// non-finite values, "0" for -0.
func appendJSNumber(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-07 -> e-7, as JavaScript writes it.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// str writes the string at w.i as JSON.stringify quotes what JSON.parse made of it (only '"',
// '\' and control characters escaped; lone surrogates as lowercase \uXXXX), applying the
// mode's colon rule to values.
func (w *jsWriter) str(dst []byte, isValue bool) ([]byte, error) {
	s := w.src
	start := len(dst)
	dst = append(dst, '"')
	j := w.i + 1
	for {
		// Copy the run of bytes that need no attention.
		k := j
		for k < len(s) {
			c := s[k]
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				break
			}
			k++
		}
		dst = append(dst, s[j:k]...)
		j = k
		if j >= len(s) {
			return dst, errSyntax(j)
		}
		c := s[j]
		switch {
		case c == '"':
			w.i = j + 1
			if isValue {
				dst = w.colonRule(dst, start)
			}
			return append(dst, '"'), nil
		case c < 0x20:
			return dst, errSyntax(j)
		case c >= 0x80:
			r, size := utf8.DecodeRune(s[j:])
			dst = appendRune(dst, r)
			j += size
		default: // backslash
			if j+1 >= len(s) {
				return dst, errSyntax(j)
			}
			switch e := s[j+1]; e {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				dst = append(dst, '\\', e)
				j += 2
			case '/':
				dst = append(dst, '/')
				j += 2
			case 'u':
				u, ok := hex4(s, j+2)
				if !ok {
					return dst, errSyntax(j)
				}
				j += 6
				if u >= 0xd800 && u < 0xdc00 && j+5 < len(s) && s[j] == '\\' && s[j+1] == 'u' {
					if lo, ok := hex4(s, j+2); ok && lo >= 0xdc00 && lo < 0xe000 {
						dst = appendRune(dst, 0x10000+(rune(u)-0xd800)<<10+(rune(lo)-0xdc00))
						j += 6
						continue
					}
				}
				dst = appendCodeUnit(dst, u)
			default:
				return dst, errSyntax(j)
			}
		}
	}
}

// colonRule applies the mode's rule to the string value written at dst[start:] (without its
// closing quote).
func (w *jsWriter) colonRule(dst []byte, start int) []byte {
	body := dst[start+1:]
	switch w.mode {
	case KeyvEscape:
		if len(body) > 0 && body[0] == ':' {
			dst = append(dst, 0)
			copy(dst[start+2:], dst[start+1:])
			dst[start+1] = ':'
		}
	case KeyvUnescape:
		cut := 0
		if bytes.HasPrefix(body, []byte(":base64:")) {
			cut = len(":base64:")
		} else if len(body) > 0 && body[0] == ':' {
			cut = 1
		}
		if cut > 0 {
			n := copy(dst[start+1:], body[cut:])
			dst = dst[:start+1+n]
		}
	}
	return dst
}

// appendCodeUnit appends a UTF-16 code unit from a \u escape as JSON.stringify writes it.
func appendCodeUnit(dst []byte, u uint16) []byte {
	switch {
	case u >= 0xd800 && u < 0xe000: // lone surrogate
		return append(dst, '\\', 'u', hexDigits[u>>12], hexDigits[u>>8&0xf], hexDigits[u>>4&0xf], hexDigits[u&0xf])
	default:
		return appendRune(dst, rune(u))
	}
}

// appendRune appends r as it appears inside a JSON.stringify string.
func appendRune(dst []byte, r rune) []byte {
	if r < 0x80 {
		return appendASCII(dst, byte(r))
	}
	var buf [4]byte
	return append(dst, buf[:utf8.EncodeRune(buf[:], r)]...)
}

// appendASCII appends the ASCII character c as it appears inside a JSON.stringify string:
// '"' and '\\' escaped, control characters as \b \t \n \f \r or \u00xx, the others as they are.
func appendASCII(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	if c < 0x20 {
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(dst, c)
}

// AppendString appends the UTF-8 text s as a JSON string, escaped as JSON.stringify escapes it:
// '"' and '\\' escaped, control characters as \b \t \n \f \r or \u00xx, everything else
// (non-ASCII, U+2028 and U+2029 included) as it is. An invalid byte is replaced by U+FFFD, as
// Node's UTF-8 decoder does.
func AppendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b >= 0x20 && b != '"' && b != '\\' && b < utf8.RuneSelf {
			i++
			continue
		}
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendASCII(dst, b)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func hex4(s []byte, i int) (uint16, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var u uint16
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		u = u<<4 | uint16(c)
	}
	return u, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(s []byte, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// skipValue returns the offset after the JSON value at s[i], checking only its outline.
func skipValue(s []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errSyntax(i)
	}
	if i >= len(s) {
		return i, errSyntax(i)
	}
	switch s[i] {
	case '"':
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return len(s), errSyntax(len(s))
	case '{', '[':
		closer := byte('}')
		if s[i] == '[' {
			closer = ']'
		}
		j := skipSpace(s, i+1)
		if j < len(s) && s[j] == closer {
			return j + 1, nil
		}
		for {
			var err error
			if j, err = skipValue(s, j, depth+1); err != nil {
				return j, err
			}
			j = skipSpace(s, j)
			if j < len(s) && (s[j] == ',' || s[j] == ':') {
				j = skipSpace(s, j+1)
				continue
			}
			if j < len(s) && s[j] == closer {
				return j + 1, nil
			}
			return j, errSyntax(j)
		}
	default:
		j := i
		for j < len(s) && !isSpace(s[j]) && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ':' {
			j++
		}
		if j == i {
			return j, errSyntax(j)
		}
		return j, nil
	}
}
