package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// testPutGetDelete: a row reads back as written, inside the writing
// function and after; values handed out and recorded are copies, so a caller
// changing its bytes later changes nothing stored; deleting a missing key
// records no change; each commit's changes are logged in the order written.
func testPutGetDelete(t *testing.T, h harness) {
	s := h.open(t, Options{})
	val := []byte("first")
	var recorded []storage.Change
	v := MustUpdate(t, s, func(w *storage.WriteTx) error {
		if _, ok, err := w.Get("a", "k"); err != nil || ok {
			return fmt.Errorf("get of a missing key = %v, %v; want not found", ok, err)
		}
		if err := w.Put("a", "k", val); err != nil {
			return err
		}
		if err := w.Put("b", "k", []byte("in b")); err != nil {
			return err
		}
		if err := w.Delete("a", "missing"); err != nil {
			return err
		}
		got, ok, err := w.Get("a", "k")
		if err != nil || !ok || string(got) != "first" {
			return fmt.Errorf("own write reads back %q, %v, %v", got, ok, err)
		}
		recorded = w.Changes()
		return nil
	})
	val[0] = 'F' // the caller reuses its buffer
	if len(recorded) != 2 || recorded[0].Table != "a" || recorded[1].Table != "b" || string(recorded[0].Value) != "first" {
		t.Fatalf("Changes = %+v, want the put to a, then the put to b, values as written", recorded)
	}
	evs, err := s.ChangesSince(v-1, storage.Filter{Table: "a"}, 0)
	if err != nil || len(evs) != 1 || len(evs[0].Changes) != 1 || string(evs[0].Changes[0].Value) != "first" {
		t.Fatalf("ChangesSince = %+v, %v; want one put of %q", evs, err, "first")
	}
	err = s.View(func(tx *storage.ReadTx) error {
		got, ok, err := tx.Get("a", "k")
		if err != nil || !ok || string(got) != "first" {
			return fmt.Errorf("get after commit = %q, %v, %v; want %q", got, ok, err, "first")
		}
		got[0] = 'X' // a reader's copy
		again, _, err := tx.Get("a", "k")
		if err != nil || string(again) != "first" {
			return fmt.Errorf("get after changing a returned value = %q, %v", again, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	v2 := MustUpdate(t, s, func(w *storage.WriteTx) error {
		if err := w.Delete("a", "k"); err != nil {
			return err
		}
		if _, ok, err := w.Get("a", "k"); err != nil || ok {
			return fmt.Errorf("get after own delete = %v, %v; want not found", ok, err)
		}
		return nil
	})
	EqualRows(t, Rows(t, s, "a"), map[string]string{})
	evs, err = s.ChangesSince(v, storage.Filter{Table: "a"}, 0)
	if err != nil || len(evs) != 1 || evs[0].Version != v2 || evs[0].Changes[0].Op != storage.OpDelete || evs[0].Changes[0].Value != nil {
		t.Fatalf("ChangesSince(%d) = %+v, %v; want one delete at version %d, no value", v, evs, err, v2)
	}
	// A function that deletes only missing keys commits a version with no
	// change: nothing is logged.
	v3 := MustUpdate(t, s, func(w *storage.WriteTx) error { return w.Delete("a", "k") })
	if evs, err := s.ChangesSince(v2, storage.Filter{Table: "a"}, 0); err != nil || len(evs) != 0 || v3 != v2+1 {
		t.Fatalf("empty commit: version %d (want %d), ChangesSince = %+v, %v; want none", v3, v2+1, evs, err)
	}
}

// testConcurrentWritersSeenOnce: under many concurrent writers, a
// subscription from version 0 receives every version exactly once, in
// order, with the change its writer made, and ChangesSince agrees.
func testConcurrentWritersSeenOnce(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true, SubscriberBuffer: 16})
	sub := subscribe(t, s, storage.Filter{Table: "a"}, 0)
	const writers, per = 8, 40
	wrote := make([]map[uint64]string, writers) // version → key, per writer
	var wg sync.WaitGroup
	for g := range writers {
		wrote[g] = map[uint64]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				key := fmt.Sprintf("w%d-%02d", g, i)
				v, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
					return w.Put("a", key, []byte(key))
				})
				if err != nil {
					t.Errorf("writer %d: %v", g, err)
					return
				}
				wrote[g][v] = key
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := map[uint64]string{}
	for _, m := range wrote {
		for v, k := range m {
			want[v] = k
		}
	}
	if len(want) != writers*per {
		t.Fatalf("%d distinct versions for %d commits", len(want), writers*per)
	}
	logged, err := s.ChangesSince(0, storage.Filter{Table: "a"}, 0)
	if err != nil || len(logged) != writers*per {
		t.Fatalf("ChangesSince(0) = %d events, %v; want %d", len(logged), err, writers*per)
	}
	for i := range writers * per {
		v := uint64(i + 1)
		ev := next(t, sub)
		if ev.Resync || ev.Version != v || len(ev.Changes) != 1 || ev.Changes[0].Key != want[v] {
			t.Fatalf("event %d = %+v, want version %d putting %s", i, ev, v, want[v])
		}
		if l := logged[i]; l.Version != v || len(l.Changes) != 1 || l.Changes[0].Key != want[v] {
			t.Fatalf("ChangesSince event %d = %+v, want version %d putting %s", i, l, v, want[v])
		}
	}
	noEventYet(t, sub)
}
