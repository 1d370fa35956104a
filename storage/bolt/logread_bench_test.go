package bolt

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// streamValue is chunk n of a streamed answer: a row of 100 B growing 20 B
// a chunk, with a counter beside the text.
func streamValue(n int) string {
	return fmt.Sprintf(`{"text":%q,"n":%d}`, strings.Repeat("x", 100)+strings.Repeat("0123456789abcdefghij", n), n)
}

// writeFullLogFile writes, with raw bbolt, a format-3 file holding a
// stream of chunks whose log records are full copies: the layout before
// undos, which ReadLog still serves as it is.
func writeFullLogFile(tb testing.TB, path string, chunks int) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(metaBucket)
		log, _ := tx.CreateBucket(logBucket)
		name := []byte(tablePrefix + "a")
		ta, _ := tx.CreateBucket(name)
		_, _ = tx.CreateBucket([]byte(tablePrefix + "b"))
		for n := 1; n <= chunks; n++ {
			v := []byte(streamValue(n))
			if err := ta.Put([]byte("answer"), sealValue(name, []byte("answer"), v)); err != nil {
				return err
			}
			rec := encodeChanges(0, []storage.Change{{Table: "a", Key: "answer", Op: storage.OpPut, Value: v}})
			if err := log.Put(versionKey(uint64(n)), sealRecord(uint64(n), rec)); err != nil {
				return err
			}
		}
		for k, v := range map[string]uint64{"format": 3, "schemaVersion": 0, "version": uint64(chunks), "logFloor": 0} {
			if err := putUint(meta, []byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkLogCatchUp reads a 2,000-chunk stream back from the log in
// pages of 256 events, as a subscriber catching up does: values rebuilt
// from undos, beside the same stream logged as full copies (format 3,
// read as it is), in the same run. ratio-vs-full > 1: rebuilding is slower.
func BenchmarkLogCatchUp(b *testing.B) {
	const chunks = 2000
	dir := b.TempDir()
	undo := openAt(b, filepath.Join(dir, "undo.db"), Options{Tables: testTables, NoSync: true})
	for n := 1; n <= chunks; n++ {
		put(b, undo, "a", "answer", streamValue(n))
	}
	writeFullLogFile(b, filepath.Join(dir, "full.db"), chunks)
	full := openAt(b, filepath.Join(dir, "full.db"), Options{Tables: testTables, NoSync: true})
	catchUp := func(s *storage.Store) time.Duration {
		start := time.Now()
		events := 0
		for after := uint64(0); ; {
			evs, err := s.ChangesSince(after, storage.Filter{Table: "a", Key: "answer"}, 256)
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			events += len(evs)
			after = evs[len(evs)-1].Version
			if last := evs[len(evs)-1].Changes[0].Value; string(last) != streamValue(int(after)) {
				b.Fatalf("version %d: %.40q…", after, last)
			}
		}
		if events != chunks {
			b.Fatalf("%d events, want %d", events, chunks)
		}
		return time.Since(start)
	}
	var tu, tf time.Duration
	for b.Loop() {
		tf += catchUp(full)
		tu += catchUp(undo)
	}
	b.ReportMetric(float64(tu.Nanoseconds())/float64(b.N*chunks), "undo-ns/event")
	b.ReportMetric(float64(tf.Nanoseconds())/float64(b.N*chunks), "full-ns/event")
	b.ReportMetric(float64(tu)/float64(tf), "ratio-vs-full")
}
