package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// A driver may store long values differently from short ones (the bbolt
// driver splits them into segments past a few KB and rewrites only the
// ones that change): these tests move values across sizes a driver might
// choose as its threshold, and check reads, scans, the log, undos of
// failed writes and a restart see exactly what was written.

// answer is a streamed answer's row after n bytes of text: the text grows
// inside the JSON, with a short suffix after it, as an AI action writes it.
func answer(n int) string {
	text := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", n/36+1)[:n]
	return fmt.Sprintf(`{"id":"k","text":%q,"status":"generating","n":%d}`, text, n)
}

// longSizes cross every threshold from 1 KB to 64 KB, growing, shrinking
// and growing again, as a streamed row and its rewrites do.
var longSizes = []int{100, 1900, 3700, 3800, 3900, 5000, 7600, 7700, 12000, 40000, 3000, 0, 65536, 4000, 39999, 100}

// testLongValues: a row rewritten across sizes reads back as written, by
// Get, inside the writing function and by Scan beside long and short
// neighbours; the log rebuilds every version; a delete of a long row
// leaves nothing; and (durable drivers) a reopen reads the same.
func testLongValues(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true})
	var log []committed
	apply(t, s, &log, pc("a", "j", answer(50000)), pc("a", "l", "short"), pc("b", "k", answer(9000)))
	want := map[string]string{"j": answer(50000), "l": "short"}
	for _, n := range longSizes {
		v := answer(n)
		var inside []byte
		MustUpdate(t, s, func(w *storage.WriteTx) error {
			if err := w.Put("a", "k", []byte(v)); err != nil {
				return err
			}
			got, _, err := w.Get("a", "k")
			inside = got
			return err
		})
		log = append(log, committed{s.Version(), []storage.Change{pc("a", "k", v)}})
		if string(inside) != v {
			t.Fatalf("a %d-byte text read back inside its write as %d bytes", n, len(inside))
		}
		want["k"] = v
		EqualRows(t, Rows(t, s, "a"), want)
	}
	// Pages of one row at a time: each long value is handed out whole.
	var keys []string
	for after := ""; ; {
		var page []storage.KV
		var next string
		err := s.View(func(tx *storage.ReadTx) error {
			var err error
			page, next, err = tx.Scan("a", storage.ScanOptions{After: after, Limit: 1})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range page {
			keys = append(keys, kv.Key)
			if string(kv.Value) != want[kv.Key] {
				t.Errorf("Scan in pages of 1: %s has %d bytes, want %d", kv.Key, len(kv.Value), len(want[kv.Key]))
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	if strings.Join(keys, ",") != "j,k,l" {
		t.Errorf("Scan in pages of 1 = %v, want j,k,l", keys)
	}
	apply(t, s, &log, dc("a", "j"), pc("a", "k", answer(20000)))
	apply(t, s, &log, pc("a", "j", "back, short"))
	delete(want, "j")
	want["j"], want["k"] = "back, short", answer(20000)
	EqualRows(t, Rows(t, s, "a"), want)
	EqualRows(t, Rows(t, s, "b"), map[string]string{"k": answer(9000)})
	checkLogFrom(t, s, log, "a", 0)

	// The longest key a store takes holds a long value too.
	longKey := strings.Repeat("K", storage.MaxKeySize)
	Put(t, s, "b", longKey, answer(20000))
	if got := Rows(t, s, "b"); got[longKey] != answer(20000) {
		t.Fatalf("a %d-byte key's long value reads back as %d bytes", len(longKey), len(got[longKey]))
	}

	if !h.d.Durable {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = h.open(t, Options{Fast: true})
	EqualRows(t, Rows(t, s, "a"), want)
	EqualRows(t, Rows(t, s, "b"), map[string]string{"k": answer(9000), longKey: answer(20000)})
}

// testLongValueUndo: a failed step or function that rewrote, shrank,
// grew or deleted a long row leaves it exactly as it was.
func testLongValueUndo(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true})
	long := answer(30000)
	Put(t, s, "a", "k", long)
	Put(t, s, "a", "small", "small")
	boom := errors.New("boom")
	steps := map[string]func(st *storage.WriteTx) error{
		"grown in the middle":   func(st *storage.WriteTx) error { return st.Put("a", "k", []byte(answer(30020))) },
		"shrunk to short":       func(st *storage.WriteTx) error { return st.Put("a", "k", []byte("short")) },
		"shrunk to fewer":       func(st *storage.WriteTx) error { return st.Put("a", "k", []byte(answer(5000))) },
		"grown to many more":    func(st *storage.WriteTx) error { return st.Put("a", "k", []byte(answer(90000))) },
		"deleted":               func(st *storage.WriteTx) error { return st.Delete("a", "k") },
		"a short row made long": func(st *storage.WriteTx) error { return st.Put("a", "small", []byte(answer(20000))) },
		"a new long row":        func(st *storage.WriteTx) error { return st.Put("a", "new", []byte(answer(20000))) },
		"written twice": func(st *storage.WriteTx) error {
			if err := st.Put("a", "k", []byte(answer(40000))); err != nil {
				return err
			}
			return st.Put("a", "k", []byte(answer(30001)))
		},
	}
	want := map[string]string{"k": long, "small": "small"}
	for name, step := range steps {
		before := s.Version()
		v, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
			if err := w.Try(func(st *storage.WriteTx) error {
				if err := step(st); err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				return fmt.Errorf("the failing step returned %v, want boom", err)
			}
			got, _, err := w.Get("a", "k")
			if err != nil || string(got) != long {
				return fmt.Errorf("after the step %s failed, k reads %d bytes (%v), want the %d it had", name, len(got), err, len(long))
			}
			return w.Put("a", "other", []byte(name))
		})
		if err != nil || v != before+1 {
			t.Fatalf("step %s: Update = %d, %v; want %d, nil", name, v, err, before+1)
		}
		want["other"] = name
		EqualRows(t, Rows(t, s, "a"), want)

		_, err = s.Update(context.Background(), func(w *storage.WriteTx) error {
			if err := step(w); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || s.Version() != before+1 {
			t.Fatalf("function %s: Update = %v, version %d; want boom, %d", name, err, s.Version(), before+1)
		}
		EqualRows(t, Rows(t, s, "a"), want)
	}
}
