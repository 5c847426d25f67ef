package catalog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Template is a key template of a dataset file, such as
// "purch:supplier:{tenant}:supplierId:{id}": literal text with placeholders in braces.
// {tenant} stands once, as a whole segment after a literal prefix; the other placeholders
// name columns of the query's row (or, in a page template, {n} and {size}).
type Template struct {
	// Text is the template as written.
	Text string
	// Prefix is the literal text before ":{tenant}", for example "purch:supplier".
	Prefix string
	// parts make up the suffix: the text after "{tenant}:" ("" when the key ends with
	// the tenant).
	parts []part
}

// part is a literal piece of a template's suffix, or a placeholder.
type part struct {
	lit  string
	name string // the placeholder's name; "" for a literal
}

var placeholderRE = regexp.MustCompile(`\{([^{}]*)\}`)

// nameRE is what a placeholder may name: a column of the query (or n and size in pages).
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseTemplate parses a key template. The placeholders of its suffix are returned by
// [Template.Placeholders]; the caller checks what they may name.
func ParseTemplate(text string) (Template, error) {
	t := Template{Text: text}
	const tenant = "{tenant}"
	i := strings.Index(text, tenant)
	switch {
	case i < 0:
		return t, fmt.Errorf("key %q has no {tenant}", text)
	case strings.Count(text, tenant) > 1:
		return t, fmt.Errorf("key %q has {tenant} more than once", text)
	case i == 0 || text[i-1] != ':':
		return t, fmt.Errorf("key %q: {tenant} must follow a literal prefix and a colon, as in module:entity:{tenant}", text)
	}
	rest := text[i+len(tenant):]
	if rest != "" && rest[0] != ':' {
		return t, fmt.Errorf("key %q: {tenant} must be a whole segment (followed by a colon or the end)", text)
	}
	t.Prefix = text[:i-1]
	if strings.ContainsAny(t.Prefix, "{}") {
		return t, fmt.Errorf("key %q: the part before {tenant} must be literal", text)
	}
	if invalidKeyText(t.Prefix) {
		return t, fmt.Errorf("key %q: a key may not contain spaces, control characters, * ? [ ]", text)
	}
	rest = strings.TrimPrefix(rest, ":")
	last := 0
	for _, m := range placeholderRE.FindAllStringSubmatchIndex(rest, -1) {
		if lit := rest[last:m[0]]; lit != "" {
			t.parts = append(t.parts, part{lit: lit})
		}
		name := rest[m[2]:m[3]]
		if !nameRE.MatchString(name) {
			return t, fmt.Errorf("key %q: placeholder {%s} is not a column name", text, name)
		}
		t.parts = append(t.parts, part{name: name})
		last = m[1]
	}
	if lit := rest[last:]; lit != "" {
		t.parts = append(t.parts, part{lit: lit})
	}
	for _, p := range t.parts {
		if strings.ContainsAny(p.lit, "{}") || invalidKeyText(p.lit) {
			return t, fmt.Errorf("key %q: unbalanced braces, spaces, control characters or * ? [ ] in its literal text", text)
		}
	}
	return t, nil
}

// invalidKeyText reports whether s has what a key's literal text may not: characters a
// Redis glob pattern or a reader would take for something else.
func invalidKeyText(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("*?[]\\", r) })
}

// Placeholders returns the names of the suffix's placeholders, in order, each once.
func (t Template) Placeholders() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range t.parts {
		if p.name != "" && !seen[p.name] {
			seen[p.name] = true
			out = append(out, p.name)
		}
	}
	return out
}

// Suffix renders the suffix, with value(name) for each placeholder.
func (t Template) Suffix(value func(name string) string) string {
	if len(t.parts) == 1 && t.parts[0].name == "" {
		return t.parts[0].lit
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
		} else {
			b.WriteString(value(p.name))
		}
	}
	return b.String()
}

// Pattern returns the template in the documentation form the README uses: {t} for
// the tenant, the placeholders as written.
func (t Template) Pattern() string { return strings.Replace(t.Text, "{tenant}", "{t}", 1) }

// Pages describes the list pages a dataset builds from the item rows of its query: the first
// Count x Size items, in the order the query returns them, as Count pages of Size items
// keyed by Key with {n} = 1..Count and {size} = Size. A page past the items is "[]".
//
// Each item's JSON is built once; the pages are assembled from the same bytes as they stream
// by, so the database neither aggregates nor sends every item twice.
type Pages struct {
	// Key is the pages' key template; its placeholders are {n} and {size} only.
	Key Template
	// Size is the number of items a page holds, Count the number of pages (0: no pages).
	Size, Count int
}

// Prefix returns the literal part of the pages' keys before the tenant.
func (p Pages) Prefix() string { return p.Key.Prefix }

// Suffix returns the key segments after the tenant id of page n (1-based).
func (p Pages) Suffix(n int) string {
	return p.Key.Suffix(func(name string) string {
		if name == "n" {
			return strconv.Itoa(n)
		}
		return strconv.Itoa(p.Size)
	})
}

// parsePages parses a pages header value: a key template, then size=N and count=M.
func parsePages(v string) (Pages, error) {
	fields := strings.Fields(v)
	if len(fields) != 3 {
		return Pages{}, fmt.Errorf("pages %q: want a key template, size=N and count=M", v)
	}
	key, err := ParseTemplate(fields[0])
	if err != nil {
		return Pages{}, fmt.Errorf("pages: %w", err)
	}
	p := Pages{Key: key}
	hasN := false
	for _, name := range key.Placeholders() {
		switch name {
		case "n":
			hasN = true
		case "size":
		default:
			return Pages{}, fmt.Errorf("pages key %q: placeholder {%s}: a page key has {n} and {size} only", fields[0], name)
		}
	}
	if !hasN {
		return Pages{}, fmt.Errorf("pages key %q has no {n}", fields[0])
	}
	for _, f := range fields[1:] {
		name, num, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n <= 0 || n > 100000 {
			return Pages{}, fmt.Errorf("pages: %q: want size=N or count=M with N, M from 1 to 100000", f)
		}
		switch name {
		case "size":
			p.Size = n
		case "count":
			p.Count = n
		default:
			return Pages{}, fmt.Errorf("pages: %q: want size=N or count=M", f)
		}
	}
	if p.Size == 0 || p.Count == 0 {
		return Pages{}, fmt.Errorf("pages %q: want both size=N and count=M", v)
	}
	return p, nil
}
