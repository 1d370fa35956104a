package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// reopenRowsEnv sets the rows BenchmarkReopen writes (default 200000; the
// README quotes 1000000).
const reopenRowsEnv = "MCP_SYNC_BENCH_REOPEN_ROWS"

// reopenFiles writes rows rows of 100 bytes (as JSON) and returns the file
// closed cleanly and a copy taken before its Close: what a crash leaves.
func reopenFiles(b *testing.B, rows int) (clean, crashed string) {
	dir := b.TempDir()
	clean, crashed = filepath.Join(dir, "clean.db"), filepath.Join(dir, "crashed.db")
	s, err := OpenStore(clean, Options{Tables: []string{"a"}, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	val := []byte(`{"text":"` + strings.Repeat("x", 89) + `"}`) // 100 bytes
	for i := 0; i < rows; i += 5000 {
		if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
			for j := i; j < min(i+5000, rows); j++ {
				if err := w.Put("a", fmt.Sprintf("row%09d", j), val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	copyFile(b, clean, crashed)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return clean, crashed
}

// timeOpen returns how long open took; close runs after, untimed.
func timeOpen(b *testing.B, open func() (close func() error, err error)) time.Duration {
	start := time.Now()
	closeFn, err := open()
	d := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if err := closeFn(); err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkReopen opens a big file, in rounds taken in turn, four ways and
// reports the median of each: our Open of a cleanly closed file ("clean"),
// of one whose writer crashed ("crashed": a fresh copy each round, since
// its Close saves the free list), and, as baselines, bare bbolt opening the
// clean file with its saved free list ("bare") and the crashed copy by
// walking it ("bare-walk", bbolt's NoFreelistSync open). Set
// MCP_SYNC_BENCH_REOPEN_ROWS for the file's size (it is written once, before
// the timer starts).
func BenchmarkReopen(b *testing.B) {
	rows := 200000
	if v := os.Getenv(reopenRowsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive number of rows", reopenRowsEnv, v)
		}
		rows = n
	}
	clean, crashed := reopenFiles(b, rows)
	fi, err := os.Stat(clean)
	if err != nil {
		b.Fatal(err)
	}
	ours := func(path string) func() (func() error, error) {
		return func() (func() error, error) {
			d, err := Open(path, Options{Tables: []string{"a"}})
			if err != nil {
				return nil, err
			}
			return d.Close, nil
		}
	}
	bare := func(path string, noFreelistSync bool) func() (func() error, error) {
		return func() (func() error, error) {
			db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoFreelistSync: noFreelistSync, FreelistType: bbolt.FreelistMapType})
			if err != nil {
				return nil, err
			}
			return db.Close, nil
		}
	}
	var cleanT, crashT, bareT, walkT []time.Duration
	round := filepath.Join(b.TempDir(), "round.db")
	for b.Loop() {
		for range 3 {
			cleanT = append(cleanT, timeOpen(b, ours(clean)))
			bareT = append(bareT, timeOpen(b, bare(clean, false)))
			b.StopTimer()
			copyFile(b, crashed, round)
			b.StartTimer()
			crashT = append(crashT, timeOpen(b, ours(round)))
			b.StopTimer()
			copyFile(b, crashed, round)
			b.StartTimer()
			walkT = append(walkT, timeOpen(b, bare(round, true)))
		}
	}
	ms := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	b.ReportMetric(ms(cleanT), "clean-ms")
	b.ReportMetric(ms(crashT), "crashed-ms")
	b.ReportMetric(ms(bareT), "bare-ms")
	b.ReportMetric(ms(walkT), "bare-walk-ms")
	b.Logf("%d rows, %.0f MB, medians of %d opens: clean %.2f ms, crashed %.1f ms; bare bbolt: saved free list %.2f ms, walk %.1f ms",
		rows, float64(fi.Size())/1e6, len(cleanT), ms(cleanT), ms(crashT), ms(bareT), ms(walkT))
}
