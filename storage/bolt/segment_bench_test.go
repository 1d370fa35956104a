package bolt

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// BenchmarkLongRowReads reads long rows stored both ways in one file,
// through the same store, taking turns: table "b" segmented, as this
// format writes them, and table "a" inline, as format 4 wrote them (and as
// a format-4 file's rows stay until rewritten). It reports the median time
// of a Get of a random row and of a Scan of a page of 50 rows in each
// layout, and segmented / inline ratios, for rows of 8 KB and 40 KB.
func BenchmarkLongRowReads(b *testing.B) {
	for _, size := range []int{8 << 10, 40 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) { benchLongRowReads(b, size) })
	}
}

func benchLongRowReads(b *testing.B, size int) {
	const rows, page = 400, 50
	path := filepath.Join(b.TempDir(), "long.db")
	key := func(i int) string { return fmt.Sprintf("answer-%05d", i) }
	val := func(i int) []byte { return []byte(streamed(size / 20)[:size-6] + fmt.Sprintf("%05d}", i)) }
	s := openAt(b, path, Options{Tables: []string{"a", "b"}, NoSync: true})
	for i := range rows {
		put(b, s, "b", key(i), string(val(i)))
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		name := []byte(tablePrefix + "a")
		tb := tx.Bucket(name)
		for i := range rows {
			if err := tb.Put([]byte(key(i)), sealValue(name, []byte(key(i)), val(i))); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		b.Fatal(err, cerr)
	}
	s = openAt(b, path, Options{Tables: []string{"a", "b"}})
	get := func(table string) func() error {
		return func() error {
			i := rand.IntN(rows)
			return s.View(func(tx *storage.ReadTx) error {
				v, _, err := tx.Get(table, key(i))
				if err == nil && len(v) != size {
					err = fmt.Errorf("%s/%s: %d bytes, want %d", table, key(i), len(v), size)
				}
				return err
			})
		}
	}
	scan := func(table string) func() error {
		return func() error {
			return s.View(func(tx *storage.ReadTx) error {
				kvs, _, err := tx.Scan(table, storage.ScanOptions{After: key(rand.IntN(rows - page)), Limit: page})
				if err == nil && (len(kvs) != page || len(kvs[0].Value) != size) {
					err = fmt.Errorf("scan of %s: %d rows", table, len(kvs))
				}
				return err
			})
		}
	}
	ops := []func() error{get("a"), get("b"), scan("a"), scan("b")}
	for range 5 { // warm the page cache for both layouts alike
		for _, op := range ops {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
	}
	times := make([][]time.Duration, len(ops))
	for b.Loop() {
		for range 20 {
			for i, op := range ops {
				t0 := time.Now()
				if err := op(); err != nil {
					b.Fatal(err)
				}
				times[i] = append(times[i], time.Since(t0))
			}
		}
	}
	med := make([]float64, len(ops))
	for i, ts := range times {
		slices.Sort(ts)
		med[i] = float64(ts[len(ts)/2].Nanoseconds()) / 1000
	}
	b.ReportMetric(med[0], "get-inline-µs")
	b.ReportMetric(med[1], "get-seg-µs")
	b.ReportMetric(med[1]/med[0], "get-ratio")
	b.ReportMetric(med[2], "scan-inline-µs/page")
	b.ReportMetric(med[3], "scan-seg-µs/page")
	b.ReportMetric(med[3]/med[2], "scan-ratio")
}
