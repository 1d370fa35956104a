package backend

import "testing"

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
