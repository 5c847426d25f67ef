package catalog_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/testenv"
)

func TestAssemblerBuildsPagesFromItems(t *testing.T) {
	t.Parallel()
	pageKey, err := catalog.ParseTemplate("x:things:{tenant}:page:{n}:limit:{size}")
	require.NoError(t, err)
	d := catalog.Dataset{Name: "things", Value: catalog.ValueObject, Pages: catalog.Pages{Key: pageKey, Size: 2, Count: 3}}
	for _, tt := range []struct {
		name  string
		items []string
		want  []string // prefix|suffix|value, in emit order
	}{
		{"no items: every page empty", nil, []string{
			"x:things|page:1:limit:2|[]", "x:things|page:2:limit:2|[]", "x:things|page:3:limit:2|[]"}},
		{"a partial page, then empty ones", []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}, []string{
			`x:thing|id:1|{"a":1}`, `x:thing|id:2|{"b":2}`, `x:things|page:1:limit:2|[{"a":1},{"b":2}]`,
			`x:thing|id:3|{"c":3}`, `x:things|page:2:limit:2|[{"c":3}]`, "x:things|page:3:limit:2|[]"}},
		{"items past the last page are keys but in no page", []string{"1", "2", "3", "4", "5", "6", "7"}, []string{
			"x:thing|id:1|1", "x:thing|id:2|2", "x:things|page:1:limit:2|[1,2]",
			"x:thing|id:3|3", "x:thing|id:4|4", "x:things|page:2:limit:2|[3,4]",
			"x:thing|id:5|5", "x:thing|id:6|6", "x:things|page:3:limit:2|[5,6]",
			"x:thing|id:7|7"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			asm := d.Assemble(func(prefix, suffix string, value []byte) error {
				got = append(got, prefix+"|"+suffix+"|"+string(value))
				return nil
			})
			for i, it := range tt.items {
				require.NoError(t, asm.Add("x:thing", "id:"+string(rune('1'+i)), []byte(it)))
			}
			require.NoError(t, asm.Close())
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("without pages rows pass through", func(t *testing.T) {
		t.Parallel()
		var got []string
		asm := catalog.Dataset{}.Assemble(func(prefix, suffix string, value []byte) error {
			got = append(got, prefix+"|"+suffix+"|"+string(value))
			return nil
		})
		require.NoError(t, asm.Add("a", "b", []byte("[]")))
		require.NoError(t, asm.Close())
		require.Equal(t, []string{"a|b|[]"}, got)
	})

	t.Run("lists gather each key's rows", func(t *testing.T) {
		t.Parallel()
		var got []string
		asm := catalog.Dataset{Value: catalog.ValueList}.Assemble(func(prefix, suffix string, value []byte) error {
			got = append(got, prefix+"|"+suffix+"|"+string(value))
			return nil
		})
		for _, r := range []struct{ prefix, suffix, value string }{
			{"x:list", "f:1", "1"}, {"x:list", "f:1", "2"}, {"x:list", "f:2", ""}, {"x:list", "f:3", "3"}, {"", "", ""},
		} {
			var v []byte
			if r.value != "" {
				v = []byte(r.value)
			}
			require.NoError(t, asm.Add(r.prefix, r.suffix, v))
		}
		require.NoError(t, asm.Close())
		require.Equal(t, []string{"x:list|f:1|[1,2]", "x:list|f:2|[]", "x:list|f:3|[3]"}, got)
	})

	t.Run("a list whose rows of one key are apart is refused", func(t *testing.T) {
		t.Parallel()
		asm := catalog.Dataset{Value: catalog.ValueList}.Assemble(func(string, string, []byte) error { return nil })
		require.NoError(t, asm.Add("x:list", "f:1", []byte("1")))
		require.NoError(t, asm.Add("x:list", "f:2", []byte("2")))
		require.ErrorContains(t, asm.Add("x:list", "f:1", []byte("3")), "order the query by the key's columns")
	})

	t.Run("a list keyed by the tenant alone is [] without rows", func(t *testing.T) {
		t.Parallel()
		key, err := catalog.ParseTemplate("x:all:{tenant}:window:current")
		require.NoError(t, err)
		var got []string
		asm := catalog.Dataset{Value: catalog.ValueList, Key: key}.Assemble(func(prefix, suffix string, value []byte) error {
			got = append(got, prefix+"|"+suffix+"|"+string(value))
			return nil
		})
		require.NoError(t, asm.Close())
		require.Equal(t, []string{"x:all|window:current|[]"}, got)
	})

	t.Run("pages need objects and a size", func(t *testing.T) {
		t.Parallel()
		_, err := catalog.New([]catalog.Dataset{{Name: "p", Phase: catalog.PhaseHigh, Value: catalog.ValueList, Pages: catalog.Pages{Size: 2, Count: 2}}})
		require.ErrorContains(t, err, "pages need value object")
		_, err = catalog.New([]catalog.Dataset{{Name: "p", Phase: catalog.PhaseHigh, Value: catalog.ValueObject, Pages: catalog.Pages{Count: 2}}})
		require.ErrorContains(t, err, "pages need value object and a size")
	})

	t.Run("an emit error stops the assembly", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		asm := d.Assemble(func(string, string, []byte) error { return boom })
		require.ErrorIs(t, asm.Add("x:thing", "id:1", []byte("1")), boom)
		require.ErrorIs(t, asm.Close(), boom)
	})
}

// BenchmarkDatasetQueries reads each dataset of one demo tenant, pages included, the way the
// warmer does, to show where the database's share of a warm goes:
// go test -run '^$' -bench DatasetQueries ./internal/catalog/ (also in make microbench).
func BenchmarkDatasetQueries(b *testing.B) {
	ctx := context.Background()
	pool := testenv.NewPool(b, testenv.FromTemplate(seeded))
	c, err := catalog.Default()
	require.NoError(b, err)
	for _, d := range c.All() {
		b.Run(d.Name, func(b *testing.B) {
			var bytes int64
			for b.Loop() {
				entries, err := d.Entries(ctx, pool, "t001")
				if err != nil {
					b.Fatal(err)
				}
				bytes = 0
				for _, e := range entries {
					bytes += int64(len(e.Value))
				}
			}
			b.SetBytes(bytes)
		})
	}
}
