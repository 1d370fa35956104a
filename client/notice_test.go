package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/client"
)

// TestWatchTakesChangesFromNotifications: an update notification carries
// the changes it announces, so a watcher holds each one without asking
// _sync_changes; it keeps only what its selector selects, loses nothing,
// and numbers past 2^53 survive exactly (the changes travel as a JSON
// string, which generic decoders leave alone).
func TestWatchTakesChangesFromNotifications(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprint("legacy=", legacy), func(t *testing.T) {
			s := newServer(t)
			c := dial(t, s, legacy)
			ctx := testCtx(t)
			w, err := client.Watch(ctx, c, items, client.Selector{Prefix: "p/"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			client.SetPoll(w, 2*testWait) // no poll tick, however slow the machine
			if ev, err := w.Next(ctx); err != nil || !ev.Resync {
				t.Fatalf("snapshot: %+v %v", ev, err)
			}
			before := s.reads.Load()
			const n = 40
			const big = 1<<60 + 1
			for i := range n {
				// A key outside the prefix in between: not the watcher's.
				mustMutate(t, s, "put", PutIn{Key: fmt.Sprint("q/", i), Name: "other"})
				mustMutate(t, s, "put", PutIn{Key: "p/a", Name: fmt.Sprint("v", i), Count: big + i})
				ev, err := w.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(ev.Changes) != 1 || ev.Changes[0].Key != "p/a" || ev.Changes[0].Value != (Item{Name: fmt.Sprint("v", i), Count: big + i}) {
					t.Fatalf("update %d: got %+v", i, ev)
				}
			}
			if reads := s.reads.Load() - before; reads > 3 { // a notification racing the snapshot
				t.Errorf("the watcher asked _sync_changes %d times for %d updates; the notifications carry them", reads, n)
			}
		})
	}
}

// TestWatchReadsChangesTooLargeToCarry: a change too large for a
// notification arrives without it, and the watcher reads it.
func TestWatchReadsChangesTooLargeToCarry(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, true)
	ctx := testCtx(t)
	w, err := client.Watch(ctx, c, items, client.Selector{Key: "big"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Next(ctx); err != nil {
		t.Fatal(err)
	}
	before := s.reads.Load()
	name := strings.Repeat("x", 64<<10)
	mustMutate(t, s, "put", PutIn{Key: "big", Name: name})
	mustMutate(t, s, "put", PutIn{Key: "big", Name: "small"})
	var got []string
	for len(got) < 2 {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range ev.Changes {
			got = append(got, ch.Value.Name)
		}
	}
	if len(got) != 2 || got[0] != name || got[1] != "small" {
		t.Fatalf("got %d values, first %d bytes", len(got), len(got[0]))
	}
	if s.reads.Load() == before {
		t.Error("the large change reached the watcher without _sync_changes: was it carried in a notification?")
	}
}

func mustMutate(t *testing.T, s *server, name string, in any) {
	t.Helper()
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.eng.Mutate(context.Background(), name, raw); err != nil {
		t.Fatalf("%s %s: %v", name, raw, err)
	}
}

// TestBigIntegersRoundTrip: integers past 2^53 come back exactly from reads
// and calls (once lost in the client's re-encoding of a result's
// structured content, which a generic decoder had made float64).
func TestBigIntegersRoundTrip(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, false)
	ctx := testCtx(t)
	const big = 1<<60 + 1
	mustMutate(t, s, "put", PutIn{Key: "k", Name: "n", Count: big})
	w, err := client.Watch(ctx, c, items, client.Selector{Key: "k"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ev, err := w.Next(ctx) // the snapshot: get_row
	if err != nil || len(ev.Changes) != 1 || ev.Changes[0].Value.Count != big {
		t.Fatalf("snapshot: %+v %v; want count %d", ev, err, big)
	}
	raw, err := c.Call(ctx, "get_row", map[string]any{"table": "items", "key": "k"})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Value Item `json:"value"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Value.Count != big {
		t.Fatalf("get_row: %s %v; want count %d", raw, err, big)
	}
}

// TestWatchIsLiveWhenItReturns: once Watch returns, the server has the
// subscription, so the next commit is notified at once. A 2026-07-28
// connection subscribes with a subscriptions/listen stream that opens in the
// background; Watch waits for the server's acknowledgement of it. Before,
// a commit right after Watch returned could go unnoticed until the 2 s poll.
func TestWatchIsLiveWhenItReturns(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprint("legacy=", legacy), func(t *testing.T) {
			s := newServer(t)
			c := dial(t, s, legacy)
			w, err := client.Watch(testCtx(t), c, items, client.Selector{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if n := s.ts.Stats().Subscribers; n != 1 {
				t.Fatalf("Watch returned while the server had %d subscribers, want 1", n)
			}
		})
	}
}

// TestWatchAppliesPatchesOfAStreamedRow: a row rewritten with text appended
// (a streamed answer) reaches a watcher as patches of its previous value,
// which the watcher applies to the value it holds: every version arrives
// whole and exact without asking _sync_changes.
func TestWatchAppliesPatchesOfAStreamedRow(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		for _, sel := range []client.Selector{{Key: "p/s"}, {Prefix: "p/"}} {
			t.Run(fmt.Sprint("legacy=", legacy, " ", sel), func(t *testing.T) {
				s := newServer(t)
				c := dial(t, s, legacy)
				ctx := testCtx(t)
				mustMutate(t, s, "put", PutIn{Key: "p/s", Name: "It was"})
				w, err := client.Watch(ctx, c, items, sel, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				client.SetPoll(w, 2*testWait)
				if ev, err := w.Next(ctx); err != nil || !ev.Resync {
					t.Fatalf("snapshot: %+v %v", ev, err)
				}
				before := s.reads.Load()
				text := "It was"
				const n = 60
				const big = 1<<60 + 1
				for i := range n {
					text += fmt.Sprintf(" \"chunk\" %d é\n", i)
					want := Item{Name: text, Count: big + i}
					mustMutate(t, s, "put", PutIn{Key: "p/s", Name: want.Name, Count: want.Count})
					ev, err := w.Next(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if len(ev.Changes) != 1 || ev.Changes[0].Value != want {
						t.Fatalf("write %d: got %+v, want %+v", i, ev, want)
					}
				}
				if reads := s.reads.Load() - before; reads > 3 { // a notification racing the snapshot
					t.Errorf("the watcher asked _sync_changes %d times for %d writes; the notices' patches carry them", reads, n)
				}
			})
		}
	}
}

// TestWatchWithoutTheBaseAsks: a watcher that resumes from a version holds
// no row, so the first patch it is sent does not apply: it asks
// _sync_changes, which gives the row whole, and applies the patches after.
func TestWatchWithoutTheBaseAsks(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, true)
	ctx := testCtx(t)
	mustMutate(t, s, "put", PutIn{Key: "s", Name: "start"})
	w, err := client.Watch(ctx, c, items, client.Selector{Key: "s"}, s.eng.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	client.SetPoll(w, 2*testWait)
	before := s.reads.Load()
	text := "start"
	for i := range 20 {
		text += fmt.Sprint(" ", i)
		mustMutate(t, s, "put", PutIn{Key: "s", Name: text})
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Changes) != 1 || ev.Changes[0].Value.Name != text {
			t.Fatalf("write %d: got %+v, want %q", i, ev, text)
		}
	}
	if reads := s.reads.Load() - before; reads < 1 || reads > 4 {
		t.Errorf("the watcher asked _sync_changes %d times for 20 writes; want it to ask for the first it lacked the base of, then apply patches", reads)
	}
}
