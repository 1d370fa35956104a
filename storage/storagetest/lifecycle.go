package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

// testReopenKeepsRowsVersionAndLog: a restart (Close, then Open of the same
// data) keeps the rows, the version, the change log and its floor.
func testReopenKeepsRowsVersionAndLog(t *testing.T, h harness) {
	s := h.open(t, Options{LogRetention: 20})
	for i := range 30 {
		Put(t, s, "a", fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	MustUpdate(t, s, func(w *storage.WriteTx) error { return w.Delete("a", "k00") })
	Put(t, s, "b", "x", "y")
	wantRowsA, wantRowsB := Rows(t, s, "a"), Rows(t, s, "b")
	wantV := s.Version()
	wantLog, err := s.ChangesSince(wantV-20, storage.Filter{Table: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = h.open(t, Options{LogRetention: 20})
	if s.Version() != wantV {
		t.Fatalf("Version after reopen = %d, want %d", s.Version(), wantV)
	}
	EqualRows(t, Rows(t, s, "a"), wantRowsA)
	EqualRows(t, Rows(t, s, "b"), wantRowsB)
	gotLog, err := s.ChangesSince(wantV-20, storage.Filter{Table: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotLog) != len(wantLog) || len(gotLog) != 19 {
		t.Fatalf("log after reopen has %d events, before %d, want 19", len(gotLog), len(wantLog))
	}
	for i := range gotLog {
		if gotLog[i].Version != wantLog[i].Version || !changesEqual(gotLog[i].Changes, wantLog[i].Changes) {
			t.Fatalf("log event %d = %+v, want %+v", i, gotLog[i], wantLog[i])
		}
	}
	// The trimmed floor survives too.
	if _, err := s.ChangesSince(wantV-21, storage.Filter{Table: "a"}, 0); !errors.Is(err, storage.ErrResync) {
		t.Fatalf("ChangesSince below the floor after reopen = %v, want storage.ErrResync", err)
	}
	if v := Put(t, s, "a", "more", "1"); v != wantV+1 {
		t.Fatalf("first Update after reopen = version %d, want %d", v, wantV+1)
	}
}

func testClosedStore(t *testing.T, h harness) {
	s := h.open(t, Options{})
	Put(t, s, "a", "k", "v")
	sub, err := s.Subscribe(storage.Filter{Table: "a"}, s.Version())
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := sub.Next(context.Background())
		waiting <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-waiting:
		if !errors.Is(err, storage.ErrClosed) {
			t.Fatalf("waiting Next after store Close = %v, want storage.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting Next did not return after store Close")
	}
	if _, err := sub.Next(context.Background()); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Next after store Close = %v, want storage.ErrClosed", err)
	}
	called := false
	if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error { called = true; return nil }); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Update after Close = %v, want storage.ErrClosed", err)
	}
	if called {
		t.Fatal("Update ran its function after Close")
	}
	if err := s.View(func(*storage.ReadTx) error { called = true; return nil }); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("View after Close = %v, want storage.ErrClosed", err)
	}
	if called {
		t.Fatal("View ran its function after Close")
	}
	if _, err := s.Subscribe(storage.Filter{Table: "a"}, 0); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want storage.ErrClosed", err)
	}
	if _, err := s.ChangesSince(0, storage.Filter{Table: "a"}, 0); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("ChangesSince after Close = %v, want storage.ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	sub.Close() // closing a subscription of a closed store is harmless
}

// Reads racing Close either complete or fail with ErrClosed, never with
// another error.
func testViewRacingClose(t *testing.T, h harness) {
	for round := range 50 {
		s := h.open(t, Options{Fast: true})
		Put(t, s, "a", "k", "v")
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					err := s.View(func(tx *storage.ReadTx) error {
						_, _, err := tx.Get("a", "k")
						return err
					})
					if err != nil {
						if !errors.Is(err, storage.ErrClosed) {
							errs <- fmt.Errorf("round %d: View racing Close = %v, want nil or storage.ErrClosed", round, err)
						}
						return
					}
				}
			}()
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
}
