package tools

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unsafe"

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
	uri := wire.TableURI("t")
	got, err := wire.DecodeNotice(uri, []byte(n.encode(uri)))
	if err != nil {
		t.Fatal(err)
	}
	if got.After != 10 || got.Version != 12 || len(got.Events) != 2 || got.Events[0].Version != 11 || len(got.Events[0].Changes) != 3 {
		t.Fatalf("notice: %+v", got)
	}
	big := []wire.SyncChange{{Key: "a", Op: "put", Value: json.RawMessage(`"` + strings.Repeat("x", maxNoticeBytes) + `"`)}}
	n.add(13, big)
	if n.encode(uri) != "" || n.version != 13 {
		t.Fatalf("a notice past %d bytes still carries its changes (version %d)", maxNoticeBytes, n.version)
	}
}

// TestNoticeEncodedOncePerRange: clients owing the same notice of a URI get
// the same bytes, encoded once; another range or URI is encoded apart.
func TestNoticeEncodedOncePerRange(t *testing.T) {
	changes := []wire.SyncChange{{Key: "a", Op: "put", Value: json.RawMessage(`{"n":1}`)}}
	owed := func() *notice {
		n := &notice{after: 4}
		n.add(5, changes)
		return n
	}
	var e encodings
	first, second := e.of("", "u", owed()), e.of("", "u", owed())
	if first == "" || unsafe.StringData(first) != unsafe.StringData(second) {
		t.Fatalf("two clients owing the same notice got separate encodings: %s, %s", first, second)
	}
	if other := e.of("", "v", owed()); unsafe.StringData(other) == unsafe.StringData(first) {
		t.Fatal("another URI's notice shared an encoding")
	}
	if other := e.of("bob", "u", owed()); unsafe.StringData(other) == unsafe.StringData(first) {
		t.Fatal("another owner's notice of the URI (a private table's row) shared an encoding")
	}
	later := owed()
	later.add(6, changes)
	if got := e.of("", "u", later); got == first {
		t.Fatalf("a longer range got the shorter one's encoding: %s", got)
	}
	if e.of("", "u", &notice{after: 4, version: 9, bare: true}) != "" {
		t.Fatal("a bare notice was encoded")
	}
	for i := range maxKeptEncodings + 10 {
		e.of("", fmt.Sprint("w", i), owed())
	}
	if len(e.byKey) > maxKeptEncodings || len(e.order) != len(e.byKey) {
		t.Fatalf("kept %d encodings (%d in order), at most %d", len(e.byKey), len(e.order), maxKeptEncodings)
	}
}
