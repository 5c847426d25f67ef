package cache

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/jsjson"
	"github.com/cachewarm/cachewarm/internal/keyv"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/stretchr/testify/require"
)

// nestjsDir is the Node project with the real NestJS cache clients.
const nestjsDir = "../test/nestjs"

// compatValues are values as the ERP caches them: node-postgres strings for numerics and
// timestamps, nulls, nesting, and the characters where JSON encoders differ.
var compatValues = []string{
	`[{"id":"1","code":"1000","name":"Cash <&> ` + "\u2028 \u2029" + ` é 😀","balance":"12345678901234567890.12","opened":"2025-01-02T03:04:05.678Z","parent":null,"active":true}]`,
	`{"id":"7","rate":"1.0825","from":"EUR","to":"USD","date":"2025-01-02","note":":starts with a colon","tags":[":a","::b",":base64:x","c"]}`,
	`[]`,
	`"plain string"`,
	`{"1":"index names come first in JavaScript","kit":{"components":[{"material":"M1","qty":2},{"material":"M2","qty":0.5}]},"quote":"\"\\/\n\t\u0001"}`,
}

// TestNestJSCompat runs the Node test project (test/nestjs) against one Redis DB: the real
// cache-manager 5 + cache-manager-redis-yet and cache-manager 7 + @keyv/redis read what Go
// wrote as wrap() hits, write their own values, which Go then reads as Wrap hits; and
// @keyv/serialize's output on a corpus must equal the stored form's byte for byte.
func TestNestJSCompat(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(nestjsDir)
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "cache-manager-redis-yet")); err != nil {
		t.Fatalf("the Node test project is not installed (%v): run `npm ci --prefix test/nestjs` from the repository root", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): install Node.js 20+ and run `npm ci --prefix test/nestjs`", err)
	}
	rdb, url := testenv.NewRedis(t) // a DB of its own: the Node clients see only this test's keys
	ctx := context.Background()
	jsonCache := New(rdb)
	keyvCache := New(rdb, WithFormat(FormatKeyv))

	type entry struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	var fx struct {
		GoJSON   []entry  `json:"goJSON"`
		GoKeyv   []entry  `json:"goKeyv"`
		NodeJSON []entry  `json:"nodeJSON"`
		NodeKeyv []entry  `json:"nodeKeyv"`
		Corpus   []string `json:"corpus"`
		Expires  int64    `json:"expires"`
	}
	k := Keys{}
	for i, v := range compatValues {
		tn := MustTenant("t" + strconv.Itoa(i))
		canon, err := jsjson.Append(nil, []byte(v), jsjson.Stringify)
		require.NoError(t, err)
		require.Equal(t, v, string(canon), "compatValues are in JSON.stringify's form")
		val := json.RawMessage(v)
		gj, gk := k.ChartOfAccounts(tn), k.PricingRules(tn)
		require.NoError(t, Set(ctx, jsonCache, gj, val, time.Minute))
		require.NoError(t, Set(ctx, keyvCache, gk, val, time.Minute))
		stored, err := rdb.Get(ctx, gj).Result()
		require.NoError(t, err)
		require.Equal(t, v, stored, "Go writes JSON.stringify's text")
		fx.GoJSON = append(fx.GoJSON, entry{gj, json.RawMessage(v)})
		fx.GoKeyv = append(fx.GoKeyv, entry{gk, json.RawMessage(v)})
		fx.NodeJSON = append(fx.NodeJSON, entry{k.Kits(tn), json.RawMessage(v)})
		fx.NodeKeyv = append(fx.NodeKeyv, entry{k.CurrentPeriod(tn), json.RawMessage(v)})
	}
	fx.Corpus = append(keyvCorpus(), compatValues...)
	fx.Expires = 1767225600000

	tmp := t.TempDir()
	fixtures, outFile := filepath.Join(tmp, "fixtures.json"), filepath.Join(tmp, "out.json")
	b, err := json.Marshal(fx)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(fixtures, b, 0o600))

	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "--test", "--test-reporter=spec", "compat.test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REDIS_URL="+url, "CACHEWARM_FIXTURES="+fixtures, "CACHEWARM_OUT="+outFile)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	require.NoError(t, err, "the Node tests failed (output above)")

	// Go reads what the Node clients wrote, as hits.
	noLoad := func(key string) func(context.Context) (json.RawMessage, error) {
		return func(context.Context) (json.RawMessage, error) {
			return nil, errors.New("Wrap called its loader for " + key + ": the NestJS value was not a hit")
		}
	}
	for _, e := range fx.NodeJSON {
		got, err := Wrap(ctx, jsonCache, e.Key, time.Minute, noLoad(e.Key))
		require.NoError(t, err)
		require.Equal(t, string(e.Value), string(got), "cache-manager 5 stores JSON.stringify's text")
	}
	for _, e := range fx.NodeKeyv {
		got, err := Wrap(ctx, keyvCache, e.Key, time.Minute, noLoad(e.Key))
		require.NoError(t, err)
		require.JSONEq(t, string(e.Value), string(got))
	}
	s := jsonCache.Stats()
	require.EqualValues(t, len(fx.NodeJSON), s.Hits)
	require.Zero(t, s.Misses)

	// The corpus: Encode and the JSON.stringify rewrite match Node byte for byte, and Decode
	// gives what defaultDeserialize gives.
	var res struct {
		Serialize   []string `json:"serialize"`
		Stringify   []string `json:"stringify"`
		Deserialize []string `json:"deserialize"`
	}
	b, err = os.ReadFile(outFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &res))
	require.Len(t, res.Serialize, len(fx.Corpus))
	for i, raw := range fx.Corpus {
		enc, err := FormatKeyv.encode(nil, []byte(raw), time.UnixMilli(fx.Expires))
		require.NoError(t, err, raw)
		require.Equal(t, res.Serialize[i], string(enc), "Encode of %s", raw)
		str, err := jsjson.Append(nil, []byte(raw), jsjson.Stringify)
		require.NoError(t, err)
		require.Equal(t, res.Stringify[i], string(str), "JSON.stringify of %s", raw)
		dec, err := keyv.DecodeAt([]byte(res.Serialize[i]), time.UnixMilli(fx.Expires-1))
		require.NoError(t, err)
		canon, err := jsjson.Append(nil, dec, jsjson.Stringify)
		require.NoError(t, err)
		require.Equal(t, res.Deserialize[i], string(canon), "Decode of %s", res.Serialize[i])
	}
}

// keyvCorpus returns JSON texts that exercise every rule of @keyv/serialize and JSON.stringify:
// fixed edge cases and deterministic random documents in non-canonical spellings.
func keyvCorpus() []string {
	corpus := []string{
		`null`, `true`, `0`, `-0`, `1.50`, `1e21`, `1E-7`, `0.000001`, `123456789012345678901234`,
		`-1.7976931348623157e308`, `5e-324`, `1e400`, `100`, `9007199254740993`,
		`":"`, `"::"`, `":base64:AAEC"`, `"::base64:x"`, `""`, `"a:b"`,
		`"\u003a\ud83d\ude00\ud800\udc00\uDFFF\u2028<>&\/\u001f\u0041\u00e9"`,
		` { "b" : 1 , "2" : 2 , "a" : ":x" , "1" : [ ":y" ] , "b" : 3 } `,
		`{"0":1,"01":2,"4294967294":3,"4294967295":4,"-1":5,"10":6,"9":7}`,
		`{"\u0061":1,"a":2}`, `{":k":":v"}`, `{"é":1,"e":2,"é":3}`,
		`[[],{},[{}],{"a":[]}]`, `{"__proto__":{"x":1},"constructor":2}`,
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		var b strings.Builder
		genJSON(r, &b, 0)
		corpus = append(corpus, b.String())
	}
	return corpus
}

func genJSON(r *rand.Rand, b *strings.Builder, depth int) {
	ws := func() {
		if r.IntN(4) == 0 {
			b.WriteString([]string{" ", "\n", "\t", "  \r\n"}[r.IntN(4)])
		}
	}
	ws()
	n := r.IntN(10)
	if depth > 3 {
		n = r.IntN(6)
	}
	switch n {
	case 0:
		b.WriteString([]string{"null", "true", "false"}[r.IntN(3)])
	case 1, 2:
		genNumber(r, b)
	case 3, 4, 5:
		genString(r, b)
	case 6, 7:
		b.WriteByte('[')
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			genJSON(r, b, depth+1)
		}
		ws()
		b.WriteByte(']')
	default:
		b.WriteByte('{')
		names := []string{`"a"`, `"b"`, `"0"`, `"7"`, `"12"`, `"01"`, `":x"`, `"\u0062"`, `"é"`, `"id"`, `"4294967295"`}
		for i := range r.IntN(6) {
			if i > 0 {
				b.WriteByte(',')
			}
			ws()
			if r.IntN(3) == 0 {
				genString(r, b)
			} else {
				b.WriteString(names[r.IntN(len(names))])
			}
			ws()
			b.WriteByte(':')
			genJSON(r, b, depth+1)
		}
		ws()
		b.WriteByte('}')
	}
	ws()
}

func genNumber(r *rand.Rand, b *strings.Builder) {
	switch r.IntN(5) {
	case 0:
		b.WriteString(strconv.Itoa(r.IntN(2000) - 1000))
	case 1:
		b.WriteString(strconv.FormatFloat(r.NormFloat64()*1e6, 'f', r.IntN(8), 64))
	case 2:
		b.WriteString(strconv.FormatFloat(r.ExpFloat64(), 'e', r.IntN(17), 64))
	case 3:
		b.WriteString(strconv.FormatUint(r.Uint64(), 10))
	default:
		b.WriteString([]string{"0.0", "-0.0", "1E+2", "2.50e-10", "1e-6", "1e-7", "1e20", "1e21", "123e-2"}[r.IntN(9)])
	}
}

func genString(r *rand.Rand, b *strings.Builder) {
	parts := []string{"a", "Z", " ", ":", "::", ":base64:", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
		"\\u0000", "\\u001F", "\\u001f", "\\u007f", "\\u003A", "\\u00e9", "é", "😀", "\\ud83d\\ude00", "\\uD83D",
		"\\ude00", "\u2028", "\\u2029", "<", ">", "&", "\u007f", "%", "*"}
	b.WriteByte('"')
	for range r.IntN(5) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	b.WriteByte('"')
}
