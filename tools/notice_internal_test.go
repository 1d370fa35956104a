package tools

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/wire"
)

// TestNoticeKeepsEachVersionOnce: a version that wrote a row twice is one
// event of the row's notice, holding both changes; changes from before the
// subscription are left out; too many changes make the notice bare.
func TestNoticeKeepsEachVersionOnce(t *testing.T) {
	all := []wire.SyncChange{{Key: "a", Op: "put", Value: json.RawMessage(`1`)}, {Key: "b", Op: "delete"}, {Key: "a", Op: "put", Value: json.RawMessage(`2`)}}
	keys, byKey := byRow(all)
	if fmt.Sprint(keys) != "[a b]" || len(byKey["a"]) != 2 || len(byKey["b"]) != 1 {
		t.Fatalf("byRow: %v %v", keys, byKey)
	}
	n := &notice{after: 10}
	n.add(9, all)  // before the subscription
	n.add(11, all) // noted once per version…
	n.add(11, all) // …however often it is marked
	n.add(12, byKey["a"])
	var got wire.ChangeNotice
	if err := json.Unmarshal([]byte(n.payload()), &got); err != nil {
		t.Fatal(err)
	}
	if got.After != 10 || got.Version != 12 || len(got.Events) != 2 || got.Events[0].Version != 11 || len(got.Events[0].Changes) != 3 {
		t.Fatalf("notice: %+v", got)
	}
	big := []wire.SyncChange{{Key: "a", Op: "put", Value: json.RawMessage(`"` + strings.Repeat("x", maxNoticeBytes) + `"`)}}
	n.add(13, big)
	if n.payload() != "" || n.version != 13 {
		t.Fatalf("a notice past %d bytes still carries its changes (version %d)", maxNoticeBytes, n.version)
	}
}
