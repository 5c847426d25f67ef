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

func TestSlot(t *testing.T) {
	t.Parallel()
	// Values from Redis's CLUSTER KEYSLOT.
	for key, want := range map[string]int{"foo": 12182, "bar": 5061} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
	if Slot("user1000") != Slot("{user1000}.following") {
		t.Error("a hash tag is hashed instead of the whole key")
	}
}
