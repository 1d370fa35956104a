package backend_test

import (
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
)

// TestPrivateRowsInTheAudit: a private row's change shows in its owner's
// history by the key the owner knows; a row of another user written with
// Table.Of is counted hidden, never named.
func TestPrivateRowsInTheAudit(t *testing.T) {
	e := openPrivate(t, func(*backend.Options) {})
	alice := as("alice")
	mustSave(t, e, alice, "n", "x")
	if _, err := e.Mutate(alice, "shareNote", mustJSON(privSave{Key: "n", Text: "bob"})); err != nil {
		t.Fatal(err)
	}
	hs, _, err := e.History(alice, backend.HistoryOptions{})
	if err != nil || len(hs) != 2 {
		t.Fatalf("alice's history = %+v, %v; want her two versions", hs, err)
	}
	if len(hs[0].Changes) != 1 || hs[0].Changes[0].Key != "n" {
		t.Errorf("alice's save shows %+v; want the key n", hs[0].Changes)
	}
	if len(hs[1].Changes) != 0 || hs[1].Hidden != 1 {
		t.Errorf("alice's share shows %+v (hidden %d); want bob's row only counted", hs[1].Changes, hs[1].Hidden)
	}
}
