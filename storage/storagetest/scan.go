package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// scanAll pages through table with o (After ignored) and returns the keys.
func scanAll(t *testing.T, s *storage.Store, table string, o storage.ScanOptions) []string {
	t.Helper()
	var keys []string
	err := s.View(func(tx *storage.ReadTx) error {
		o.After = ""
		for pages := 0; ; pages++ {
			if pages > 10000 {
				return errors.New("paging does not end")
			}
			kvs, next, err := tx.Scan(table, o)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				keys = append(keys, kv.Key)
				if string(kv.Value) != "v"+kv.Key {
					return fmt.Errorf("key %q has value %q", kv.Key, kv.Value)
				}
			}
			if next == "" {
				return nil
			}
			if len(kvs) == 0 || next != kvs[len(kvs)-1].Key {
				return fmt.Errorf("page of %d rows with cursor %q", len(kvs), next)
			}
			o.After = next
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// expectScan is what one Scan page should return, computed from the sorted key
// list.
func expectScan(sorted []string, o storage.ScanOptions) []string {
	var out []string
	limit := o.Limit
	if limit <= 0 {
		limit = storage.DefaultScanLimit
	}
	limit = min(limit, storage.MaxScanLimit)
	keys := slices.Clone(sorted)
	if o.Reverse {
		slices.Reverse(keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, o.Prefix) {
			continue
		}
		if o.After != "" && (!o.Reverse && k <= o.After || o.Reverse && k >= o.After) {
			continue
		}
		out = append(out, k)
	}
	return out[:min(len(out), limit)]
}

func testScanPaging(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true})
	var keys []string
	MustUpdate(t, s, func(w *storage.WriteTx) error {
		for i := range 250 {
			k := fmt.Sprintf("k%03d", i)
			keys = append(keys, k)
			if err := w.Put("a", k, []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	reversed := slices.Clone(keys)
	slices.Reverse(reversed)

	for _, reverse := range []bool{false, true} {
		err := s.View(func(tx *storage.ReadTx) error {
			want := keys
			if reverse {
				want = reversed
			}
			var got []string
			after := ""
			for page := 0; ; page++ {
				kvs, next, err := tx.Scan("a", storage.ScanOptions{Limit: 100, After: after, Reverse: reverse})
				if err != nil {
					return err
				}
				wantLen := []int{100, 100, 50}[page]
				if len(kvs) != wantLen {
					return fmt.Errorf("reverse=%v page %d has %d rows, want %d", reverse, page, len(kvs), wantLen)
				}
				for _, kv := range kvs {
					got = append(got, kv.Key)
				}
				if page == 2 {
					if next != "" {
						return fmt.Errorf("last page cursor %q, want empty", next)
					}
					break
				}
				if next != kvs[len(kvs)-1].Key {
					return fmt.Errorf("cursor %q, want last key %q", next, kvs[len(kvs)-1].Key)
				}
				after = next
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("reverse=%v visited %v, want %v", reverse, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func testScanPrefixAndCursorEdges(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true})
	keys := []string{
		"\x00", "a", "p", "p\x00", "p\x01", "pa", "pz", "p\xfe", "p\xfe\xff", "p\xff", "p\xff\x00",
		"p\xffz", "p\xff\xff", "p\xff\xff\xff", "q", "q\x00", "\xfe", "\xfe\xff", "\xff", "\xff\x00",
		"\xff\xfe", "\xff\xff", "\xff\xff\x00", "\xff\xffa", "\xff\xff\xff", "\xff\xff\xff\xff",
	}
	MustUpdate(t, s, func(w *storage.WriteTx) error {
		for _, k := range keys {
			if err := w.Put("a", k, []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	sort.Strings(keys)
	prefixes := []string{"", "p", "p\xff", "p\xff\xff", "p\xfe", "\xff", "\xff\xff", "\xff\xff\xff", "\xff\xff\xff\xff\xff", "o", "zz", "\x00"}
	afters := []string{"", "\x00", "a", "o", "p", "p\x00", "p\xff", "p\xff\x01", "p\xff\xff\xff\xff", "pzz", "q", "\xff", "\xff\xff", "\xff\xff\xff\xff\xff"}
	for _, prefix := range prefixes {
		for _, reverse := range []bool{false, true} {
			// Paging from the start visits every matching key once, in order,
			// whatever the page size.
			want := expectScan(keys, storage.ScanOptions{Prefix: prefix, Reverse: reverse, Limit: storage.MaxScanLimit})
			for _, limit := range []int{1, 2, 3, 100} {
				got := scanAll(t, s, "a", storage.ScanOptions{Prefix: prefix, Reverse: reverse, Limit: limit})
				if !slices.Equal(got, want) {
					t.Fatalf("prefix %q reverse=%v limit %d: paged %q, want %q", prefix, reverse, limit, got, want)
				}
			}
			// One page from an arbitrary cursor.
			for _, after := range afters {
				o := storage.ScanOptions{Prefix: prefix, After: after, Reverse: reverse, Limit: 3}
				var got []string
				if err := s.View(func(tx *storage.ReadTx) error {
					kvs, _, err := tx.Scan("a", o)
					for _, kv := range kvs {
						got = append(got, kv.Key)
					}
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if want := expectScan(keys, o); !slices.Equal(got, want) {
					t.Fatalf("Scan(prefix %q after %q reverse=%v limit %d) = %q, want %q", o.Prefix, o.After, o.Reverse, o.Limit, got, want)
				}
			}
		}
	}
}

func testScanLimits(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true})
	MustUpdate(t, s, func(w *storage.WriteTx) error {
		for i := range 1200 {
			k := fmt.Sprintf("k%04d", i)
			if err := w.Put("a", k, []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		limit, want int
		next        string
	}{
		{0, 100, "k0099"},
		{-5, 100, "k0099"},
		{1000, 1000, "k0999"},
		{1001, 1000, "k0999"},
		{5000, 1000, "k0999"},
	}
	for _, c := range cases {
		err := s.View(func(tx *storage.ReadTx) error {
			kvs, next, err := tx.Scan("a", storage.ScanOptions{Limit: c.limit})
			if err != nil {
				return err
			}
			if len(kvs) != c.want || next != c.next {
				return fmt.Errorf("limit %d: %d rows, cursor %q; want %d, %q", c.limit, len(kvs), next, c.want, c.next)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Exactly a page's worth left: the last page says so with an empty cursor.
	if err := s.View(func(tx *storage.ReadTx) error {
		kvs, next, err := tx.Scan("a", storage.ScanOptions{After: "k0999", Limit: 200})
		if err != nil || len(kvs) != 200 || next != "" {
			return fmt.Errorf("last full page: %d rows, cursor %q, %v; want 200, \"\"", len(kvs), next, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
