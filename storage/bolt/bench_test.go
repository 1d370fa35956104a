package bolt

import (
	"bufio"
	"context"
	"fmt"
	"github.com/mcp-sync/mcp-sync/storage"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
)

var benchValue = make([]byte, 100)

// runWriters spreads n calls of op over writers goroutines and returns how
// long they took.
func runWriters(b *testing.B, n, writers int, op func(i int) error) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	return d
}

// storeCommit returns an op committing one 100-byte row per call through a
// fresh store (fsync on).
func storeCommit(b *testing.B) func(i int) error {
	s := openAt(b, filepath.Join(b.TempDir(), "store.db"), Options{Tables: []string{"a"}})
	return func(i int) error {
		_, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
			return w.Put("a", strconv.Itoa(i), benchValue)
		})
		return err
	}
}

// bareCommit returns an op committing one 100-byte row per call with
// db.Update on a fresh bbolt file (default options: fsync on).
func bareCommit(b *testing.B) func(i int) error {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "bare.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("a"))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return func(i int) error {
		return db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("a")).Put([]byte(strconv.Itoa(i)), benchValue)
		})
	}
}

// BenchmarkCommit: one 100-byte row per commit, through the store and
// through bare bbolt, with 1 and 16 writers.
func BenchmarkCommit(b *testing.B) {
	for _, impl := range []struct {
		name string
		op   func(*testing.B) func(int) error
	}{{"storage", storeCommit}, {"bare", bareCommit}} {
		for _, writers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/writers=%d", impl.name, writers), func(b *testing.B) {
				op := impl.op(b)
				b.ResetTimer()
				d := runWriters(b, b.N, writers, op)
				b.ReportMetric(float64(b.N)/d.Seconds(), "commits/s")
			})
		}
	}
}

// BenchmarkCommitVsBare runs b.N bare bbolt commits and then b.N store
// Updates in the same run (ns/op covers both) and reports the store's
// throughput as a fraction of bare bbolt's: ratio-vs-bare > 1 means the
// store's group commit beats one fsync per writer.
func BenchmarkCommitVsBare(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			bareOp, storeOp := bareCommit(b), storeCommit(b)
			b.ResetTimer()
			bare := runWriters(b, b.N, writers, bareOp)
			store := runWriters(b, b.N, writers, storeOp)
			bareRate, storeRate := float64(b.N)/bare.Seconds(), float64(b.N)/store.Seconds()
			b.ReportMetric(bareRate, "bare-commits/s")
			b.ReportMetric(storeRate, "storage-commits/s")
			b.ReportMetric(storeRate/bareRate, "ratio-vs-bare")
		})
	}
}

// procWriteBytes returns write_bytes from /proc/self/io: bytes this process
// caused to be sent to the storage layer.
func procWriteBytes() (int64, bool) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// BenchmarkRowRewrite rewrites one row again and again (fsync on) and
// reports the bytes written to disk per commit.
func BenchmarkRowRewrite(b *testing.B) {
	for _, size := range []int{100, 8 << 10} {
		b.Run(fmt.Sprintf("value=%dB", size), func(b *testing.B) {
			s := openAt(b, filepath.Join(b.TempDir(), "store.db"), Options{Tables: []string{"a"}})
			val := make([]byte, size)
			// Many other rows, so the rewritten one sits in a real tree.
			if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
				for i := range 1000 {
					if err := w.Put("a", fmt.Sprintf("other%04d", i), benchValue); err != nil {
						return err
					}
				}
				return w.Put("a", "row", val)
			}); err != nil {
				b.Fatal(err)
			}
			before, ok := procWriteBytes()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				val[0] = byte(i)
				if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
					return w.Put("a", "row", val)
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if after, ok2 := procWriteBytes(); ok && ok2 {
				b.ReportMetric(float64(after-before)/float64(b.N), "disk-B/commit")
			}
		})
	}
}
