package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

func testSubscribeFromVersion(t *testing.T, h harness) {
	filters := []storage.Filter{
		{Table: "a"},
		{Table: "b"},
		{Table: "a", Prefix: "user/"},
		{Table: "a", Key: "user/1"},
		{Table: "a", Key: "user/1", Prefix: "zzz"}, // Key wins over Prefix
		{Table: "b", Prefix: "none/"},
	}
	for _, mode := range []string{"catch-up", "live"} {
		t.Run(mode, func(t *testing.T) {
			s := h.open(t, Options{})
			var log []committed
			// Before N: none of these may be delivered.
			apply(t, s, &log, pc("a", "user/1", "old"), pc("b", "user/1", "old"))
			apply(t, s, &log, pc("a", "user/2", "old"))
			n := s.Version()

			subs := make([]*storage.Subscription, len(filters))
			for i, f := range filters {
				subs[i] = subscribe(t, s, f, n)
			}
			got := make([][]storage.Event, len(filters))
			var wg sync.WaitGroup
			if mode == "live" {
				// Readers wait before the writes start, so events arrive
				// from publish rather than from the log.
				for i, sub := range subs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							ev, err := sub.Next(context.Background())
							if err != nil {
								if !errors.Is(err, storage.ErrClosed) {
									t.Errorf("filter %+v: Next: %v", filters[i], err)
								}
								return
							}
							got[i] = append(got[i], ev)
							for _, c := range ev.Changes {
								if string(c.Value) == "sentinel" {
									return
								}
							}
						}
					}()
				}
			}

			apply(t, s, &log, pc("a", "user/1", "v1"), pc("a", "user/10", "v1"), pc("a", "other", "v1"))
			apply(t, s, &log, pc("b", "user/1", "v2"))
			apply(t, s, &log)                                        // a version with no changes
			apply(t, s, &log, dc("a", "user/2"), dc("a", "missing")) // deleting a missing key records nothing
			apply(t, s, &log, pc("a", "user/1", "v3"), dc("a", "user/1"), pc("b", "x", "v3"))
			apply(t, s, &log, pc("a", "userx", "v4"), pc("a", "use", "v4"))
			apply(t, s, &log, pc("a", "user/1", ""))

			if mode == "live" {
				// Each reader stops at the sentinel, which every filter selects.
				apply(t, s, &log, pc("a", "user/1", "sentinel"), pc("b", "none/s", "sentinel"))
				wg.Wait()
			}
			for i, f := range filters {
				want := expected(log, f, n)
				if mode == "catch-up" {
					for range want {
						got[i] = append(got[i], next(t, subs[i]))
					}
					noEventYet(t, subs[i])
				}
				if len(got[i]) != len(want) {
					t.Fatalf("filter %+v: got %d events %+v, want %d %+v", f, len(got[i]), got[i], len(want), want)
				}
				for j := range want {
					g, w := got[i][j], want[j]
					if g.Resync || g.Version != w.Version || !changesEqual(g.Changes, w.Changes) {
						t.Fatalf("filter %+v event %d = %+v, want %+v", f, j, g, w)
					}
				}
			}
			// ChangesSince agrees with the subscriptions.
			for _, f := range filters {
				evs, err := s.ChangesSince(n, f, 0)
				if err != nil {
					t.Fatal(err)
				}
				want := expected(log, f, n)
				if len(evs) != len(want) {
					t.Fatalf("ChangesSince(%d, %+v) = %d events, want %d", n, f, len(evs), len(want))
				}
				for j := range want {
					if evs[j].Version != want[j].Version || !changesEqual(evs[j].Changes, want[j].Changes) {
						t.Fatalf("ChangesSince(%d, %+v)[%d] = %+v, want %+v", n, f, j, evs[j], want[j])
					}
				}
				// And honours its limit.
				if len(want) > 1 {
					evs, err := s.ChangesSince(n, f, 1)
					if err != nil || len(evs) != 1 || evs[0].Version != want[0].Version {
						t.Fatalf("ChangesSince(limit 1) = %+v, %v", evs, err)
					}
				}
			}
		})
	}
}

func testSlowSubscriberDoesNotBlockWriters(t *testing.T, h harness) {
	s := h.open(t, Options{SubscriberBuffer: 4, Fast: true})
	sub := subscribe(t, s, storage.Filter{Table: "a"}, 0)
	// One Next that finds nothing makes the subscription live: fed from
	// memory, with a buffer of 4 (storage's own tests look inside).
	noEventYet(t, sub)

	const n = 500
	done := make(chan error, 1)
	go func() {
		for i := range n {
			v, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
				return w.Put("a", fmt.Sprintf("k%03d", i), []byte(fmt.Sprint(i)))
			})
			if err == nil && v != uint64(i+1) {
				err = fmt.Errorf("update %d committed as version %d", i, v)
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("writer blocked behind a subscriber that does not read")
	}
	// Overflowed, it reads the rest back from the change log.

	for i := range n {
		ev := next(t, sub)
		want := uint64(i + 1)
		if ev.Resync || ev.Version != want || len(ev.Changes) != 1 ||
			ev.Changes[0].Key != fmt.Sprintf("k%03d", i) || string(ev.Changes[0].Value) != fmt.Sprint(i) {
			t.Fatalf("event %d = %+v, want version %d putting k%03d", i, ev, want, i)
		}
	}
	noEventYet(t, sub)
	// Caught up, it goes live again and sees new writes.
	v := Put(t, s, "a", "after", "x")
	if ev := next(t, sub); ev.Version != v || ev.Changes[0].Key != "after" {
		t.Fatalf("event after catch-up = %+v, want version %d", ev, v)
	}
}

func testRetentionResync(t *testing.T, h harness) {
	s := h.open(t, Options{LogRetention: 10, Fast: true})
	for i := range 100 {
		Put(t, s, "a", fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	if s.Version() != 100 {
		t.Fatalf("Version = %d, want 100", s.Version())
	}
	for _, after := range []uint64{0, 50, 89} {
		if evs, err := s.ChangesSince(after, storage.Filter{Table: "a"}, 0); !errors.Is(err, storage.ErrResync) || evs != nil {
			t.Fatalf("ChangesSince(%d) = %v, %v; want storage.ErrResync", after, evs, err)
		}
	}
	evs, err := s.ChangesSince(90, storage.Filter{Table: "a"}, 0)
	if err != nil || len(evs) != 10 || evs[0].Version != 91 || evs[9].Version != 100 {
		t.Fatalf("ChangesSince(90) = %d events, %v; want versions 91..100", len(evs), err)
	}

	sub := subscribe(t, s, storage.Filter{Table: "a"}, 0)
	ev := next(t, sub)
	if !ev.Resync || ev.Version != 100 || len(ev.Changes) != 0 {
		t.Fatalf("first event = %+v, want Resync at version 100", ev)
	}
	// The client reads a snapshot, then subscribes from its version.
	var snapV uint64
	var snap map[string]string
	if err := s.View(func(tx *storage.ReadTx) error {
		snapV = tx.Version()
		kvs, _, err := tx.Scan("a", storage.ScanOptions{Limit: storage.MaxScanLimit})
		snap = map[string]string{}
		for _, kv := range kvs {
			snap[kv.Key] = string(kv.Value)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if snapV != ev.Version || len(snap) != 100 {
		t.Fatalf("snapshot at version %d with %d rows, want version %d with 100", snapV, len(snap), ev.Version)
	}
	fresh := subscribe(t, s, storage.Filter{Table: "a"}, snapV)
	for i := range 5 {
		Put(t, s, "a", fmt.Sprintf("new%d", i), "n")
	}
	for _, sb := range []*storage.Subscription{fresh, sub} { // the resynced one continues too
		for i := range 5 {
			ev := next(t, sb)
			if ev.Resync || ev.Version != snapV+uint64(i)+1 || len(ev.Changes) != 1 || ev.Changes[0].Key != fmt.Sprintf("new%d", i) {
				t.Fatalf("event %d after resync = %+v, want version %d putting new%d", i, ev, snapV+uint64(i)+1, i)
			}
		}
		noEventYet(t, sb)
	}
}

func testSubscribeFromFutureVersion(t *testing.T, h harness) {
	s := h.open(t, Options{})
	Put(t, s, "a", "k", "v")
	cur := s.Version()
	sub := subscribe(t, s, storage.Filter{Table: "a"}, cur+5)
	ev := next(t, sub)
	if !ev.Resync || ev.Version != cur || len(ev.Changes) != 0 {
		t.Fatalf("first event = %+v, want Resync at the store's version %d", ev, cur)
	}
	v := Put(t, s, "a", "k2", "v2")
	ev = next(t, sub)
	if ev.Resync || ev.Version != v || len(ev.Changes) != 1 || ev.Changes[0].Key != "k2" {
		t.Fatalf("event after resync = %+v, want version %d putting k2", ev, v)
	}
}

// testChangesSinceFutureVersion: changes after a version the store has not
// reached are a resync, as a subscription from there is; the largest
// version must not wrap around to the start of the log.
func testChangesSinceFutureVersion(t *testing.T, h harness) {
	s := h.open(t, Options{})
	Put(t, s, "a", "k", "v")
	cur := s.Version()
	if evs, err := s.ChangesSince(cur, storage.Filter{Table: "a"}, 0); err != nil || len(evs) != 0 {
		t.Fatalf("ChangesSince(the store's version) = %+v, %v; want nothing", evs, err)
	}
	for _, after := range []uint64{cur + 1, math.MaxUint64} {
		if evs, err := s.ChangesSince(after, storage.Filter{Table: "a"}, 0); !errors.Is(err, storage.ErrResync) {
			t.Errorf("ChangesSince(%d) past the store's version %d = %+v, %v; want ErrResync", after, cur, evs, err)
		}
	}
}

func testSubscriptionCloseThenNext(t *testing.T, h harness) {
	s := h.open(t, Options{})
	sub := subscribe(t, s, storage.Filter{Table: "a"}, 0)
	Put(t, s, "a", "k", "v") // an event is waiting, but Close drops it
	waiting := subscribe(t, s, storage.Filter{Table: "b"}, s.Version())
	errc := make(chan error, 1)
	go func() {
		_, err := waiting.Next(context.Background())
		errc <- err
	}()
	sub.Close()
	if _, err := sub.Next(context.Background()); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Next after Close = %v, want storage.ErrClosed", err)
	}
	waiting.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, storage.ErrClosed) {
			t.Fatalf("waiting Next after Close = %v, want storage.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting Next did not return after Close")
	}
	sub.Close() // twice is harmless
	// The store is unaffected.
	if v := Put(t, s, "a", "k2", "v"); v != 2 {
		t.Fatalf("Update after closing subscriptions = version %d, want 2", v)
	}
}

// A client reads a snapshot and subscribes from its version while writes go
// on. Whatever the timing, the subscription must deliver exactly the versions
// after the snapshot, and never a resync: the snapshot's version is one the
// store has committed. The hard moment is a snapshot taken after bbolt
// committed a version but before the commit loop published it; the loop
// below looks for that moment (snapshot version > Store.Version()) and stops
// after catching it a few times.
func testSnapshotThenSubscribeUnderWrites(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true})
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
				return w.Put("a", "k", []byte(fmt.Sprint(i)))
			}); err != nil {
				writerDone <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-writerDone; err != nil {
			t.Error(err)
		}
	}()
	caught := 0
	for round := 0; round < 20000 && caught < 20; round++ {
		var snapV uint64
		var unpublished bool
		if err := s.View(func(tx *storage.ReadTx) error {
			snapV = tx.Version()
			unpublished = snapV > s.Version()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !unpublished && round%50 != 0 {
			continue // check the ordinary case too, now and then
		}
		if unpublished {
			caught++
		}
		sub, err := s.Subscribe(storage.Filter{Table: "a"}, snapV)
		if err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			ev := next(t, sub)
			if ev.Resync || ev.Version != snapV+uint64(j)+1 {
				sub.Close()
				t.Fatalf("round %d (snapshot unpublished: %v): event %d after snapshot %d = %+v, want version %d",
					round, unpublished, j, snapV, ev, snapV+uint64(j)+1)
			}
		}
		sub.Close()
	}
	t.Logf("caught %d snapshots of unpublished versions", caught)
}
