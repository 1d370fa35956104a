package storagetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

// MustUpdate runs fn in s.Update and fails the test on an error; it
// returns the committed version.
func MustUpdate(t testing.TB, s *storage.Store, fn func(*storage.WriteTx) error) uint64 {
	t.Helper()
	v, err := s.Update(context.Background(), fn)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return v
}

// Put stores value under key in table in a commit of its own and returns
// its version.
func Put(t testing.TB, s *storage.Store, table, key, value string) uint64 {
	t.Helper()
	return MustUpdate(t, s, func(w *storage.WriteTx) error { return w.Put(table, key, []byte(value)) })
}

// Rows returns every row of table as key → value.
func Rows(t testing.TB, s *storage.Store, table string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.View(func(tx *storage.ReadTx) error {
		after := ""
		for {
			kvs, next, err := tx.Scan(table, storage.ScanOptions{After: after, Limit: storage.MaxScanLimit})
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				out[kv.Key] = string(kv.Value)
			}
			if next == "" {
				return nil
			}
			after = next
		}
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return out
}

// EqualRows fails the test unless got and want hold the same rows.
func EqualRows(t testing.TB, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("rows = %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("rows = %v, want %v", got, want)
		}
	}
}

func changesEqual(a, b []storage.Change) bool {
	return slices.EqualFunc(a, b, func(x, y storage.Change) bool {
		return x.Table == y.Table && x.Key == y.Key && x.Op == y.Op &&
			bytes.Equal(x.Value, y.Value) && (x.Value == nil) == (y.Value == nil)
	})
}

// BlockLoop runs an Update whose function waits for release, so that
// Updates started meanwhile queue up and share the next commit. It returns
// once the function is running; release with the returned func, which waits
// for that Update and returns its version.
func BlockLoop(t *testing.T, s *storage.Store) (release func() uint64) {
	t.Helper()
	running, unblock := make(chan struct{}), make(chan struct{})
	type res struct {
		v   uint64
		err error
	}
	done := make(chan res, 1)
	go func() {
		v, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
			close(running)
			<-unblock
			return w.Put("b", "blocker", []byte("1"))
		})
		done <- res{v, err}
	}()
	<-running
	return func() uint64 {
		close(unblock)
		r := <-done
		if r.err != nil {
			t.Errorf("blocking Update: %v", r.err)
		}
		return r.v
	}
}

// next returns the subscription's next event, failing the test if none comes
// within a generous bound (a hang, not a speed check).
func next(t testing.TB, sub *storage.Subscription) storage.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next: no event within 30 s: %v", err)
	}
	return ev
}

// noEventYet checks that Next has nothing to return right now.
func noEventYet(t testing.TB, sub *storage.Subscription) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if ev, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %+v, %v; want nothing (deadline exceeded)", ev, err)
	}
}

func subscribe(t testing.TB, s *storage.Store, f storage.Filter, from uint64) *storage.Subscription {
	t.Helper()
	sub, err := s.Subscribe(f, from)
	if err != nil {
		t.Fatalf("Subscribe(%+v, %d): %v", f, from, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// committed is one successful Update: its version and changes.
type committed struct {
	v       uint64
	changes []storage.Change
}

// apply writes changes in one Update and records what it changed.
func apply(t testing.TB, s *storage.Store, log *[]committed, changes ...storage.Change) {
	t.Helper()
	var recorded []storage.Change
	v := MustUpdate(t, s, func(w *storage.WriteTx) error {
		recorded = recorded[:0]
		for _, c := range changes {
			var err error
			if c.Op == storage.OpDelete {
				// Deleting a missing row is no change.
				if _, ok, _ := w.Get(c.Table, c.Key); !ok {
					continue
				}
				err = w.Delete(c.Table, c.Key)
			} else {
				err = w.Put(c.Table, c.Key, c.Value)
			}
			if err != nil {
				return err
			}
			recorded = append(recorded, c)
		}
		return nil
	})
	*log = append(*log, committed{v, recorded})
}

func pc(table, key, value string) storage.Change {
	return storage.Change{Table: table, Key: key, Op: storage.OpPut, Value: []byte(value)}
}

func dc(table, key string) storage.Change {
	return storage.Change{Table: table, Key: key, Op: storage.OpDelete}
}

// expected filters the committed log the way a subscription from version
// after should deliver it.
func expected(log []committed, f storage.Filter, after uint64) []storage.Event {
	var out []storage.Event
	for _, c := range log {
		if c.v <= after {
			continue
		}
		ev := storage.Event{Version: c.v}
		for _, ch := range c.changes {
			if match(f, &ch) {
				ev.Changes = append(ev.Changes, ch)
			}
		}
		if len(ev.Changes) > 0 {
			out = append(out, ev)
		}
	}
	return out
}
