package bolt

import (
	"context"
	"fmt"
	"github.com/mcp-sync/mcp-sync/storage"
	"path/filepath"
	"testing"
)

// BenchmarkCPU measures the store's own CPU per operation with fsync off,
// where the disk's noise (which swamps the fsync'd benchmarks on a shared
// machine) does not reach: a commit rewriting one 100-byte row among 1000,
// and a Scan of those 1000 rows (each value's checksum checked).
func BenchmarkCPU(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "cpu.db"), Options{Tables: []string{"a"}, NoSync: true})
	if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
		for i := range 1000 {
			if err := w.Put("a", fmt.Sprintf("row%04d", i), benchValue); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.Run("commit-nosync", func(b *testing.B) {
		val := make([]byte, 100)
		for i := 0; b.Loop(); i++ {
			val[0] = byte(i)
			if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error { return w.Put("a", "row0500", val) }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scan-1000-rows", func(b *testing.B) {
		for b.Loop() {
			if err := s.View(func(tx *storage.ReadTx) error {
				kvs, _, err := tx.Scan("a", storage.ScanOptions{Limit: 1000})
				if err == nil && len(kvs) != 1000 {
					err = fmt.Errorf("scanned %d rows", len(kvs))
				}
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
