package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// testTrySteps: steps of one Update commit together as one version; a step
// that fails or panics leaves none of its writes, even to rows an earlier
// step or the function itself wrote; Changes lists what the kept steps
// wrote; and a failing function undoes its kept steps too.
func testTrySteps(t *testing.T, h harness) {
	s := h.open(t, Options{})
	Put(t, s, "a", "x", "server")
	before := s.Version()
	boom := errors.New("boom")
	var changes []storage.Change
	v, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
		if err := w.Put("a", "x", []byte("reset")); err != nil {
			return err
		}
		if err := w.Try(func(st *storage.WriteTx) error { return st.Put("a", "y", []byte("step 1")) }); err != nil {
			return err
		}
		if err := w.Try(func(st *storage.WriteTx) error {
			if err := st.Put("a", "x", []byte("failed step")); err != nil {
				return err
			}
			if err := st.Delete("a", "y"); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			return fmt.Errorf("failing step returned %v, want boom", err)
		}
		if err := w.Try(func(st *storage.WriteTx) error {
			_ = st.Put("b", "z", []byte("panicked step"))
			panic("step panics")
		}); err == nil || !strings.Contains(err.Error(), "step panics") {
			return fmt.Errorf("panicking step returned %v", err)
		}
		if err := w.Try(func(st *storage.WriteTx) error {
			if got, _, _ := st.Get("a", "y"); string(got) != "step 1" {
				return fmt.Errorf("a step sees %q for y, want the earlier step's write", got)
			}
			if got, _, _ := st.Get("a", "x"); string(got) != "reset" {
				return fmt.Errorf("a step sees %q for x, want the function's write the failed step had overwritten", got)
			}
			return st.Put("a", "x", []byte("step 4"))
		}); err != nil {
			return err
		}
		changes = slices.Clone(w.Changes())
		return nil
	})
	if err != nil || v != before+1 {
		t.Fatalf("Update = %d, %v; want %d, nil", v, err, before+1)
	}
	EqualRows(t, Rows(t, s, "a"), map[string]string{"x": "step 4", "y": "step 1"})
	EqualRows(t, Rows(t, s, "b"), map[string]string{})
	var got []string
	for _, c := range changes {
		got = append(got, c.Table+"/"+c.Key+"="+string(c.Value))
	}
	if want := []string{"a/x=reset", "a/y=step 1", "a/x=step 4"}; !slices.Equal(got, want) {
		t.Errorf("Changes = %v, want %v", got, want)
	}

	// The function fails after a kept step: nothing of it stays.
	before = s.Version()
	_, err = s.Update(context.Background(), func(w *storage.WriteTx) error {
		if err := w.Try(func(st *storage.WriteTx) error { return st.Put("a", "x", []byte("kept step")) }); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || s.Version() != before {
		t.Fatalf("Update = %v, version %d; want boom and %d", err, s.Version(), before)
	}
	EqualRows(t, Rows(t, s, "a"), map[string]string{"x": "step 4", "y": "step 1"})
}
