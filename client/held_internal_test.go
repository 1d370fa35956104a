package client

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/mcp-sync/mcp-sync/wire"
)

// TestHeldAppliesPatchesToTheirBase: a patch applies to a row written at
// its base, or read at or after its base and before the patch's version,
// and to nothing else: the watcher then reads the changes.
func TestHeldAppliesPatchesToTheirBase(t *testing.T) {
	patch := wire.SyncChange{Key: "a", Op: wire.OpPatch, Base: 5, Append: json.RawMessage(`{"s":"b"}`)}
	for _, tc := range []struct {
		name string
		row  *heldRow
		ok   bool
	}{
		{"written at the base", &heldRow{version: 5, exact: true}, true},
		{"written before the base: missed it", &heldRow{version: 4, exact: true}, false},
		{"written after the base", &heldRow{version: 6, exact: true}, false},
		{"read at the base", &heldRow{version: 5}, true},
		{"read after the base, before the patch", &heldRow{version: 6}, true},
		{"read before the base", &heldRow{version: 4}, false},
		{"read at the patch's version or later", &heldRow{version: 7}, false},
		{"not held", nil, false},
	} {
		var h held
		if tc.row != nil {
			tc.row.value = json.RawMessage(`{"s":"a"}`)
			h.put("a", *tc.row)
		}
		got, err := h.patched(7, patch)
		if ok := err == nil; ok != tc.ok || (ok && string(got) != `{"s":"ab"}`) {
			t.Errorf("%s: %s, %v; want applied %v", tc.name, got, err, tc.ok)
		}
		if ok := err == nil; ok && h.cur["a"].version != 7 {
			t.Errorf("%s: held as of %d after the patch, want 7", tc.name, h.cur["a"].version)
		}
	}
	var h held
	h.put("a", heldRow{version: 5, exact: true, value: json.RawMessage(`{"s":1}`)})
	if _, err := h.patched(7, patch); !errors.Is(err, wire.ErrPatch) {
		t.Errorf("a patch that does not fit its base: %v, want ErrPatch", err)
	}
}
