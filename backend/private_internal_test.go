package backend

import (
	"testing"

	"github.com/mcp-sync/mcp-sync/schema"
)

// TestSplitStoredKey: a stored key splits back into the owner and key it
// was made of, and keys not in the stored form are refused.
func TestSplitStoredKey(t *testing.T) {
	for _, c := range [][2]string{{"alice", "a"}, {"1:a", "x"}, {"ab", ":c"}, {"é", "ü"}, {"a", ""}} {
		owner, key, ok := splitStoredKey(ownerPrefix(c[0]) + c[1])
		if !ok || owner != c[0] || key != c[1] {
			t.Errorf("split of (%q, %q) = %q, %q, %v", c[0], c[1], owner, key, ok)
		}
	}
	for _, bad := range []string{"", "a", ":a", "0:a", "5:abc", "x:a", "+1:a", "01:a", "-1:a"} {
		if o, k, ok := splitStoredKey(bad); ok {
			t.Errorf("split of %q = %q, %q; want refused", bad, o, k)
		}
	}
}

// TestHistoryKey: a private row's change shows in its owner's history by
// its plain key, and in no one else's; other tables' keys pass as they are.
func TestHistoryKey(t *testing.T) {
	sc := schema.MustDefine(1, schema.Table[struct{}]("notes", schema.Private()), schema.Table[struct{}]("todos"))
	e := &Engine{cfg: Config{Schema: sc}}
	stored := ownerPrefix("alice") + "a"
	if k, ok := e.historyKey("notes", stored, "alice"); !ok || k != "a" {
		t.Errorf("alice's own row = %q, %v; want a", k, ok)
	}
	if k, ok := e.historyKey("notes", stored, "bob"); ok {
		t.Errorf("alice's row in bob's history = %q", k)
	}
	if k, ok := e.historyKey("notes", stored[:3], "alice"); ok {
		t.Errorf("a key cut inside its prefix = %q; want hidden", k)
	}
	if k, ok := e.historyKey("todos", "5:alicea", "bob"); !ok || k != "5:alicea" {
		t.Errorf("a shared table's key = %q, %v; want it as it is", k, ok)
	}
}
