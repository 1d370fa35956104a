package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

func testUpdateErrorLeavesNothing(t *testing.T, h harness) {
	s := h.open(t, Options{})
	Put(t, s, "a", "kept", "old")
	Put(t, s, "a", "gone", "still here")
	before := s.Version()

	boom := errors.New("boom")
	v, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
		if err := w.Put("a", "new1", []byte("x")); err != nil {
			return err
		}
		if err := w.Put("b", "new2", []byte("y")); err != nil {
			return err
		}
		if err := w.Put("a", "kept", []byte("overwritten")); err != nil {
			return err
		}
		if err := w.Delete("a", "gone"); err != nil {
			return err
		}
		// The function sees its own writes before it fails.
		if _, ok, _ := w.Get("a", "new1"); !ok {
			return errors.New("own write not visible")
		}
		return boom
	})
	if !errors.Is(err, boom) || v != 0 {
		t.Fatalf("Update = %d, %v; want 0, boom", v, err)
	}
	if got := s.Version(); got != before {
		t.Fatalf("Version = %d after failed Update, want %d", got, before)
	}
	EqualRows(t, Rows(t, s, "a"), map[string]string{"kept": "old", "gone": "still here"})
	EqualRows(t, Rows(t, s, "b"), map[string]string{})
	evs, err := s.ChangesSince(before, storage.Filter{Table: "a"}, 0)
	if err != nil || len(evs) != 0 {
		t.Fatalf("ChangesSince(%d) = %v, %v; want no events", before, evs, err)
	}
	// The store still commits afterwards, with the next version.
	if v := Put(t, s, "a", "after", "1"); v != before+1 {
		t.Fatalf("next Update version = %d, want %d", v, before+1)
	}
}

func testUpdatePanicLeavesNothing(t *testing.T, h harness) {
	s := h.open(t, Options{})
	Put(t, s, "a", "kept", "old")
	before := s.Version()

	v, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
		_ = w.Put("a", "p1", []byte("x"))
		_ = w.Put("a", "kept", []byte("overwritten"))
		_ = w.Put("b", "p2", []byte("y"))
		panic("kaboom")
	})
	if err == nil || v != 0 {
		t.Fatalf("Update with panicking fn = %d, %v; want 0 and an error", v, err)
	}
	if !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("error %q should say the function panicked with kaboom", err)
	}
	if got := s.Version(); got != before {
		t.Fatalf("Version = %d, want %d", got, before)
	}
	EqualRows(t, Rows(t, s, "a"), map[string]string{"kept": "old"})
	EqualRows(t, Rows(t, s, "b"), map[string]string{})
	// The commit loop survived.
	if v := Put(t, s, "b", "after", "1"); v != before+1 {
		t.Fatalf("Update after panic = version %d, want %d", v, before+1)
	}
}

func testGroupCommitFailuresIsolated(t *testing.T, h harness) {
	s := h.open(t, Options{})
	base := s.Version()
	const n = 16
	type result struct {
		v   uint64
		err error
	}
	results := make([]result, n)
	var wg, started sync.WaitGroup
	release := BlockLoop(t, s)
	fail := errors.New("odd writer fails")
	for g := range n {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			v, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
				// The first write is a kept Try step: a failing writer's
				// rollback must undo it too.
				if err := w.Try(func(st *storage.WriteTx) error {
					return st.Put("a", fmt.Sprintf("g%02d-0", g), []byte(fmt.Sprint(g)))
				}); err != nil {
					return err
				}
				if err := w.Put("a", fmt.Sprintf("g%02d-1", g), []byte(fmt.Sprint(g))); err != nil {
					return err
				}
				if g%2 == 1 {
					return fail
				}
				return nil
			})
			results[g] = result{v, err}
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // let the writers queue behind the blocker: not asserted
	blockerV := release()
	wg.Wait()

	want := map[string]string{}
	versions := map[uint64]int{blockerV: -1}
	for g, r := range results {
		if g%2 == 1 {
			if !errors.Is(r.err, fail) || r.v != 0 {
				t.Errorf("writer %d = %d, %v; want 0, its error", g, r.v, r.err)
			}
			continue
		}
		if r.err != nil {
			t.Fatalf("writer %d: %v", g, r.err)
		}
		if other, dup := versions[r.v]; dup {
			t.Fatalf("writers %d and %d both got version %d", g, other, r.v)
		}
		versions[r.v] = g
		for i := range 2 {
			want[fmt.Sprintf("g%02d-%d", g, i)] = fmt.Sprint(g)
		}
		// Its own changes, and only those, are logged under its version.
		evs, err := s.ChangesSince(r.v-1, storage.Filter{Table: "a"}, 1)
		if err != nil || len(evs) != 1 || evs[0].Version != r.v {
			t.Fatalf("ChangesSince(%d) = %+v, %v; want the event of version %d", r.v-1, evs, err, r.v)
		}
		wantCh := []storage.Change{
			{Table: "a", Key: fmt.Sprintf("g%02d-0", g), Op: storage.OpPut, Value: []byte(fmt.Sprint(g))},
			{Table: "a", Key: fmt.Sprintf("g%02d-1", g), Op: storage.OpPut, Value: []byte(fmt.Sprint(g))},
		}
		if !changesEqual(evs[0].Changes, wantCh) {
			t.Fatalf("version %d changes = %+v, want %+v", r.v, evs[0].Changes, wantCh)
		}
	}
	EqualRows(t, Rows(t, s, "a"), want)
	// Failed writers take no version: the successful ones are exactly the
	// next n/2+1 versions.
	for v := base + 1; v <= base+n/2+1; v++ {
		if _, ok := versions[v]; !ok {
			t.Fatalf("version %d unused; versions = %v", v, versions)
		}
	}
	if got := s.Version(); got != base+n/2+1 {
		t.Fatalf("Version = %d, want %d", got, base+n/2+1)
	}
}

func testVersionsStrictlyIncrease(t *testing.T, h harness) {
	s := h.open(t, Options{})
	start := Put(t, s, "b", "seed", "1")
	const writers, per = 16, 50
	got := make([][]uint64, writers)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				v, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
					return w.Put("a", fmt.Sprintf("w%02d-%03d", g, i), []byte("v"))
				})
				if err != nil {
					t.Errorf("writer %d Update %d: %v", g, i, err)
					return
				}
				got[g] = append(got[g], v)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[uint64]bool{}
	for g, vs := range got {
		for i, v := range vs {
			if i > 0 && v <= vs[i-1] {
				t.Fatalf("writer %d: version %d after %d", g, v, vs[i-1])
			}
			if seen[v] {
				t.Fatalf("version %d returned twice", v)
			}
			seen[v] = true
		}
	}
	for v := start + 1; v <= start+writers*per; v++ {
		if !seen[v] {
			t.Fatalf("version %d never returned", v)
		}
	}
	if len(seen) != writers*per {
		t.Fatalf("%d versions returned, want %d", len(seen), writers*per)
	}
	if s.Version() != start+writers*per {
		t.Fatalf("Version = %d, want %d", s.Version(), start+writers*per)
	}
	if err := s.View(func(tx *storage.ReadTx) error {
		if tx.Version() != start+writers*per {
			return fmt.Errorf("snapshot version %d, want %d", tx.Version(), start+writers*per)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(Rows(t, s, "a")); n != writers*per {
		t.Fatalf("%d rows, want %d", n, writers*per)
	}
}

func testCancelledContext(t *testing.T, h harness) {
	s := h.open(t, Options{})
	Put(t, s, "a", "k", "v")
	before := s.Version()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	v, err := s.Update(ctx, func(w *storage.WriteTx) error {
		called = true
		return w.Put("a", "x", []byte("y"))
	})
	if !errors.Is(err, context.Canceled) || v != 0 || called {
		t.Fatalf("Update with cancelled ctx = %d, %v (fn called %v); want 0, context.Canceled, not called", v, err, called)
	}

	// Cancelled while waiting behind another commit.
	release := BlockLoop(t, s)
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, func(w *storage.WriteTx) error { return w.Put("a", "late", []byte("y")) })
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it queue: not asserted
	cancel()
	blockerV := release()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Update cancelled while queued = %v, want context.Canceled", err)
	}
	if blockerV != before+1 || s.Version() != before+1 {
		t.Fatalf("versions %d, %d; want only the blocker's %d", blockerV, s.Version(), before+1)
	}
	EqualRows(t, Rows(t, s, "a"), map[string]string{"k": "v"})
}

func testBadKeys(t *testing.T, h harness) {
	s := h.open(t, Options{})
	Put(t, s, "a", "k", "v")
	before := s.Version()
	big := strings.Repeat("x", 32768+1)
	for _, tc := range []struct {
		name string
		fn   func(*storage.WriteTx) error
	}{
		{"empty key Put", func(w *storage.WriteTx) error { return w.Put("a", "", []byte("v")) }},
		{"empty key Delete", func(w *storage.WriteTx) error { return w.Delete("a", "") }},
		{"oversize key Put", func(w *storage.WriteTx) error { return w.Put("a", big, []byte("v")) }},
		{"oversize key Delete", func(w *storage.WriteTx) error { return w.Delete("a", big) }},
	} {
		var putErr error
		_, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
			putErr = tc.fn(w)
			return putErr
		})
		if putErr == nil || err == nil {
			t.Fatalf("%s: accepted (write error %v, Update error %v)", tc.name, putErr, err)
		}
	}
	// A function that ignores the error commits without the bad row.
	v := MustUpdate(t, s, func(w *storage.WriteTx) error {
		if err := w.Put("a", big, []byte("v")); err == nil {
			return errors.New("oversize key accepted")
		}
		return nil
	})
	if v != before+1 {
		t.Fatalf("version %d, want %d", v, before+1)
	}
	EqualRows(t, Rows(t, s, "a"), map[string]string{"k": "v"})
	// The largest key bbolt takes is accepted.
	maxKey := strings.Repeat("m", 32768)
	Put(t, s, "a", maxKey, "max")
	if got := Rows(t, s, "a")[maxKey]; got != "max" {
		t.Fatalf("max-size key reads back %q", got)
	}
}

func testUnknownTable(t *testing.T, h harness) {
	s := h.open(t, Options{})
	Put(t, s, "a", "k", "v")
	before := s.Version()

	err := s.View(func(tx *storage.ReadTx) error {
		if _, _, err := tx.Get("nope", "k"); !errors.Is(err, storage.ErrNoTable) {
			return fmt.Errorf("tx.Get = %v, want storage.ErrNoTable", err)
		}
		if _, _, err := tx.Scan("nope", storage.ScanOptions{}); !errors.Is(err, storage.ErrNoTable) {
			return fmt.Errorf("tx.Scan = %v, want storage.ErrNoTable", err)
		}
		// Only declared tables: the store's own buckets are not tables.
		for _, internal := range []string{"meta", "log", "t/a"} {
			if _, _, err := tx.Get(internal, "version"); !errors.Is(err, storage.ErrNoTable) {
				return fmt.Errorf("Get(%q) = %v, want storage.ErrNoTable", internal, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   func(*storage.WriteTx) error
	}{
		{"Put", func(w *storage.WriteTx) error { return w.Put("nope", "k", []byte("v")) }},
		{"Delete", func(w *storage.WriteTx) error { return w.Delete("nope", "k") }},
		{"Put after a good Put", func(w *storage.WriteTx) error {
			if err := w.Put("a", "good", []byte("v")); err != nil {
				return err
			}
			return w.Put("nope", "k", []byte("v"))
		}},
	} {
		if _, err := s.Update(context.Background(), tc.fn); !errors.Is(err, storage.ErrNoTable) {
			t.Fatalf("%s: Update = %v, want storage.ErrNoTable", tc.name, err)
		}
	}
	if s.Version() != before {
		t.Fatalf("Version = %d, want %d", s.Version(), before)
	}
	EqualRows(t, Rows(t, s, "a"), map[string]string{"k": "v"})

	if _, err := s.Subscribe(storage.Filter{Table: "nope"}, 0); !errors.Is(err, storage.ErrNoTable) {
		t.Fatalf("Subscribe = %v, want storage.ErrNoTable", err)
	}
	if _, err := s.ChangesSince(0, storage.Filter{Table: "nope"}, 0); !errors.Is(err, storage.ErrNoTable) {
		t.Fatalf("ChangesSince = %v, want storage.ErrNoTable", err)
	}
	if _, err := s.Subscribe(storage.Filter{}, 0); err == nil {
		t.Fatal("Subscribe with no table succeeded")
	}
	if _, err := s.ChangesSince(0, storage.Filter{Key: "k"}, 0); err == nil {
		t.Fatal("ChangesSince with no table succeeded")
	}
}
