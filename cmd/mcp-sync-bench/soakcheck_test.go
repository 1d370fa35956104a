package main

import (
	"testing"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

func soakEvent(v uint64, text string, resync bool) client.Event[todo.Todo] {
	return client.Event[todo.Todo]{Version: v, Resync: resync, Changes: []client.Change[todo.Todo]{{Key: "k", Value: todo.Todo{Text: text}}}}
}

// TestSoakWatchCheck: the soak's check of a watch. A resync snapshot taken
// before a later write keeps that write owed (it was dropped, and the
// write's own event then failed: found in review); a write whose call
// failed may come out or not; a miss is reported once, not on every later
// event; a repeat is reported.
func TestSoakWatchCheck(t *testing.T) {
	w := &soakWorker{expect: []soakWrite{{"A", 1}}}
	if err := w.checkEvent(soakEvent(1, "A", false)); err != nil {
		t.Fatal(err)
	}
	w.expect = append(w.expect, soakWrite{"B", 2})
	if err := w.checkEvent(soakEvent(1, "A", true)); err != nil { // snapshot as of 1
		t.Fatal(err)
	}
	if err := w.checkEvent(soakEvent(2, "B", false)); err != nil {
		t.Errorf("a write after the resync's snapshot: %v", err)
	}

	w = &soakWorker{maybe: []string{"M"}, expect: []soakWrite{{"C", 5}}}
	for _, e := range []client.Event[todo.Todo]{soakEvent(4, "M", false), soakEvent(5, "C", false)} {
		if err := w.checkEvent(e); err != nil {
			t.Errorf("a write whose call failed, then one owed: %v", err)
		}
	}

	w = &soakWorker{expect: []soakWrite{{"D", 6}, {"E", 7}, {"F", 8}}}
	if err := w.checkEvent(soakEvent(7, "E", false)); err == nil {
		t.Error("D was missed, and nothing said so")
	}
	if err := w.checkEvent(soakEvent(8, "F", false)); err != nil {
		t.Errorf("one miss reported again on the next event: %v", err)
	}
	if err := w.checkEvent(soakEvent(8, "F", false)); err == nil {
		t.Error("F came out twice, and nothing said so")
	}
}
