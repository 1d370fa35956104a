package bolt

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// BenchmarkScanVsBare reads pages of 1,000 rows from random places in a
// table of 100,000 rows of ~50 B, taking turns in rounds: through the
// store's Scan (checksums checked, values copied) and, as the baseline,
// bare bbolt's cursor copying each key and value out of its view. It
// reports the median page time of each and their ratio.
func BenchmarkScanVsBare(b *testing.B) {
	const rows, page = 100_000, 1000
	path := filepath.Join(b.TempDir(), "scan.db")
	s := openAt(b, path, Options{Tables: []string{"a"}, NoSync: true})
	val := []byte(`{"text":"a todo of some thirty bytes","n":123456}`)
	for i := 0; i < rows; i += 10_000 {
		if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
			for j := i; j < i+10_000; j++ {
				if err := w.Put("a", fmt.Sprintf("todo-%07d", j), val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	s = openAt(b, path, Options{Tables: []string{"a"}})
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "bare.db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucket([]byte("a"))
		if err != nil {
			return err
		}
		for j := range rows {
			if err := bk.Put(fmt.Appendf(nil, "todo-%07d", j), val); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	after := func() string { return fmt.Sprintf("todo-%07d", rand.IntN(rows-page)) }
	ours := func() error {
		return s.View(func(tx *storage.ReadTx) error {
			kvs, _, err := tx.Scan("a", storage.ScanOptions{After: after(), Limit: page})
			if err == nil && len(kvs) != page {
				err = fmt.Errorf("scan returned %d rows, want %d", len(kvs), page)
			}
			return err
		})
	}
	bare := func() error {
		return db.View(func(tx *bbolt.Tx) error {
			a := []byte(after())
			c := tx.Bucket([]byte("a")).Cursor()
			var out []storage.KV
			for k, v := c.Seek(a); k != nil && len(out) < page; k, v = c.Next() {
				if bytes.Equal(k, a) {
					continue
				}
				out = append(out, storage.KV{Key: string(k), Value: bytes.Clone(v)})
			}
			if len(out) != page {
				return fmt.Errorf("bare scan returned %d rows, want %d", len(out), page)
			}
			return nil
		})
	}
	var oursT, bareT []time.Duration
	timed := func(f func() error) time.Duration {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	for b.Loop() {
		for range 20 {
			oursT = append(oursT, timed(ours))
			bareT = append(bareT, timed(bare))
		}
	}
	med := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Nanoseconds()) / 1000
	}
	b.ReportMetric(med(oursT), "scan-µs/page")
	b.ReportMetric(med(bareT), "bare-µs/page")
	b.ReportMetric(med(oursT)/med(bareT), "ratio-vs-bare")
}
