package hashtag

import "testing"

func TestCompanion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ key, kind, want string }{
		{"finance:coa:t1", "lock", "{finance:coa:t1}:lock"},
		{"finance:coa:t1", "ver", "{finance:coa:t1}:ver"},
		{"sales:vendor:{t1}:vendorId:1", "lock", "cachewarm:lock:sales:vendor:{t1}:vendorId:1"},
		{"a{}b", "ver", "{a{}b}:ver"}, // an empty tag is no tag: Redis hashes the whole key
	} {
		if got := Companion(tt.key, tt.kind); got != tt.want {
			t.Errorf("Companion(%q, %q) = %q, want %q", tt.key, tt.kind, got, tt.want)
		}
	}
	if !Has("x:{t1}:y") || Has("x:t1") || Has("x:{}:y") || Has("x}{") {
		t.Error("Has")
	}
}
