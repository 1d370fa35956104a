package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/bolt/damage"
	bbolt "go.etcd.io/bbolt"
)

// streamed is a streamed answer's row after n chunks of 20 B: the text
// grows inside the JSON, a short suffix after it.
func streamed(n int) string {
	return fmt.Sprintf(`{"text":%q,"n":%d,"t":%d}`, strings.Repeat("x", 100)+strings.Repeat("0123456789abcdefghij", n), n, 1733000000000000000+n*7919)
}

// streamFiles opens a store and a bare bbolt file (fsync off), each with
// 300 other rows of 100 B in table a, so that a streamed row sits in a real
// tree.
func streamFiles(t *testing.T) (*storage.Store, *Driver, *bbolt.DB) {
	t.Helper()
	dir := t.TempDir()
	s, d := openDriver(t, filepath.Join(dir, "data.db"), Options{Tables: testTables, NoSync: true}, storage.Options{})
	bare, err := bbolt.Open(filepath.Join(dir, "bare.db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bare.Close() })
	for i := range 300 {
		put(t, s, "a", fmt.Sprintf("other%03d", i), strings.Repeat("o", 100))
		if err := bare.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("a"))
			if err != nil {
				return err
			}
			return b.Put(fmt.Appendf(nil, "other%03d", i), []byte(strings.Repeat("o", 100)))
		}); err != nil {
			t.Fatal(err)
		}
	}
	return s, d, bare
}

// TestStreamPageBytesFlat: the page bytes a commit writes for a streamed
// row stay flat as the row grows from 10 KB to 40 KB, where bare bbolt's
// grow with it (bbolt rewrites a value whole, with its overflow pages).
func TestStreamPageBytesFlat(t *testing.T) {
	const chunks = 2000
	s, d, bare := streamFiles(t)
	alloc := func(db *bbolt.DB) int64 { st := db.Stats(); return st.TxStats.GetPageAlloc() }
	type window struct{ ours, bare int64 }
	var early, late window // page bytes over chunks 401..600 and 1801..2000
	for n := 1; n <= chunks; n++ {
		o0, b0 := alloc(d.db), alloc(bare)
		v := streamed(n)
		put(t, s, "a", "answer", v)
		if err := bare.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("a")).Put([]byte("answer"), []byte(v)) }); err != nil {
			t.Fatal(err)
		}
		w := &early
		if n > chunks-200 {
			w = &late
		} else if n <= 400 || n > 600 {
			continue
		}
		w.ours += alloc(d.db) - o0
		w.bare += alloc(bare) - b0
	}
	per := func(b int64) float64 { return float64(b) / 200 / 1024 }
	t.Logf("page KB per commit, row ~10 KB → ~40 KB: ours %.1f → %.1f, bare bbolt %.1f → %.1f",
		per(early.ours), per(late.ours), per(early.bare), per(late.bare))
	if late.ours > early.ours*5/4 {
		t.Errorf("a commit of the streamed row writes %.1f KB of pages at 40 KB, %.1f KB at 10 KB: want flat (≤ 1.25×)", per(late.ours), per(early.ours))
	}
	if late.ours >= late.bare {
		t.Errorf("at 40 KB a commit writes %.1f KB of pages, bare bbolt %.1f KB: segments should write less", per(late.ours), per(late.bare))
	}
	if got := get(t, s, "a", "answer"); got != streamed(chunks) {
		t.Fatalf("the streamed row reads back as %d bytes, want %d", len(got), len(streamed(chunks)))
	}
}

// get reads one row, failing the test on an error.
func get(t testing.TB, s *storage.Store, table, key string) string {
	t.Helper()
	var v []byte
	if err := s.View(func(tx *storage.ReadTx) error {
		var err error
		v, _, err = tx.Get(table, key)
		return err
	}); err != nil {
		t.Fatalf("Get(%s, %s): %v", table, key, err)
	}
	return string(v)
}

// segmentedFile writes a closed file whose row b/victim is segmented with
// victimMarker in its third segment, beside a long healthy row b/long. With
// crashed, the file is a copy taken before the Close: what a crash leaves,
// which Open checks in full.
func segmentedFile(t *testing.T, crashed bool) (path, victim string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "seg.db")
	s, err := OpenStore(path, Options{Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	victim = strings.Repeat("v", 2*segSize+100) + victimMarker + strings.Repeat("w", 3*segSize)
	put(t, s, "b", "victim", victim)
	put(t, s, "b", "long", strings.Repeat("L", 5*segSize))
	put(t, s, "a", "short", "short")
	if crashed {
		copyFile(t, path, path+".crashed")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if crashed {
		return path + ".crashed", victim
	}
	return path, victim
}

// rawUpdate changes the closed file at path with bare bbolt.
func rawUpdate(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedSegment: a flipped byte in a segment, a segment gone, and a
// segment no row counts are each reported naming the row, by Check and by a
// read of the row, never a panic, and the flipped byte by Open after a
// crash (which checks every page, not how they add up to rows); the other
// rows read; a failed rewrite of the damaged row leaves it as it was, and a
// rewrite repairs it.
func TestDamagedSegment(t *testing.T) {
	flip := func(t *testing.T, path string) {
		for _, v := range damage.Variants([]byte(victimMarker)) {
			if v.Name == "flipped-byte-in-a-value" {
				if err := v.Apply(path); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatal("no flipped-byte variant")
	}
	cases := []struct {
		name, what string
		refused    bool // by Open after a crash
		harm       func(t *testing.T, path string)
	}{
		{"flipped-byte", "segment 3 of 6: segment checksum mismatch", true, flip},
		{"segment-gone", "segment 2 of 6 is missing", false, func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bbolt.Tx) error {
				return tx.Bucket([]byte(segPrefix + "b")).Delete(segKey(nil, []byte("victim"), 1))
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, victim := segmentedFile(t, c.refused)
			c.harm(t, path)
			if c.refused {
				_, err := Open(path, Options{Tables: testTables})
				if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), "victim") {
					t.Fatalf("Open of a file with a damaged segment = %v, want ErrCorrupt naming the row", err)
				}
			}
			rep, err := Check(path, CheckOptions{})
			if err != nil || rep.OK() || rep.Problems[0].Key != "victim" || !strings.Contains(rep.Problems[0].What, c.what) {
				t.Fatalf("Check = %v %+v, want the row victim: %s", err, rep, c.what)
			}
			s := openAt(t, path, Options{AllowDamagedRows: true})
			err = s.View(func(tx *storage.ReadTx) error { _, _, err := tx.Get("b", "victim"); return err })
			var ce *storage.CorruptError
			if !errors.As(err, &ce) || ce.Key != "victim" || !strings.Contains(ce.Problem, c.what) {
				t.Fatalf("Get of the damaged row = %v, want a CorruptError naming it: %s", err, c.what)
			}
			err = s.View(func(tx *storage.ReadTx) error { _, _, err := tx.Scan("b", storage.ScanOptions{}); return err })
			if !errors.As(err, &ce) || ce.Key != "victim" {
				t.Fatalf("Scan over the damaged row = %v, want a CorruptError naming it", err)
			}
			if got := get(t, s, "b", "long"); got != strings.Repeat("L", 5*segSize) {
				t.Fatalf("the healthy long row reads %d bytes", len(got))
			}
			boom := errors.New("boom")
			if _, err := s.Update(t.Context(), func(w *storage.WriteTx) error {
				if err := w.Put("b", "victim", []byte(strings.Repeat("n", 4*segSize))); err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				t.Fatalf("the failing rewrite returned %v", err)
			}
			err = s.View(func(tx *storage.ReadTx) error { _, _, err := tx.Get("b", "victim"); return err })
			if !errors.As(err, &ce) || !strings.Contains(ce.Problem, c.what) {
				t.Fatalf("after a failed rewrite the row reads %v, want it damaged as before: %s", err, c.what)
			}
			put(t, s, "b", "victim", victim)
			if got := get(t, s, "b", "victim"); got != victim {
				t.Fatalf("the rewritten row reads %d bytes, want %d", len(got), len(victim))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if rep, err := Check(path, CheckOptions{}); err != nil || !rep.OK() {
				t.Fatalf("Check after the rewrite: %v %+v", err, rep)
			}
		})
	}
	t.Run("orphan", func(t *testing.T) {
		path, _ := segmentedFile(t, false)
		rawUpdate(t, path, func(tx *bbolt.Tx) error {
			sk := segKey(nil, []byte("victim"), 9)
			return tx.Bucket([]byte(segPrefix+"b")).Put(sk, sealSegment([]byte(tablePrefix+"b"), sk, []byte("stray")))
		})
		rep, err := Check(path, CheckOptions{})
		if err != nil || rep.OK() || rep.Problems[0].Key != "victim" || !strings.Contains(rep.Problems[0].What, "segment 10 is not part") {
			t.Fatalf("Check = %v %+v, want the stray segment of victim", err, rep)
		}
	})
}

// TestUpgradeFromFormat4: a format-4 file, its long rows inline, opens as
// format 5 without rewriting them; they read back, the log rebuilds every
// version across the row's next write (which segments it), and the file
// checks clean.
func TestUpgradeFromFormat4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	vals := []string{streamed(300), streamed(301), streamed(302)}
	rawFile := func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(metaBucket)
		log, _ := tx.CreateBucket(logBucket)
		_, _ = tx.CreateBucket([]byte(tablePrefix + "a"))
		name := []byte(tablePrefix + "b")
		tb, _ := tx.CreateBucket(name)
		var prev []byte
		for i, v := range vals {
			c := logChange{table: []byte("b"), key: []byte("s"), op: storage.OpPut, kind: kindNew}
			if prev != nil {
				u := undoOf(prev, []byte(v))
				c.kind, c.p, c.s, c.data = u.kind, u.p, u.s, u.data
			}
			if err := log.Put(versionKey(uint64(i+1)), encodeRecord(uint64(i+1), []logChange{c})); err != nil {
				return err
			}
			prev = []byte(v)
		}
		if err := tb.Put([]byte("s"), sealValue(name, []byte("s"), prev)); err != nil {
			return err
		}
		if err := putUint(meta, keyDeltaSince, 1); err != nil {
			return err
		}
		return finishOldMeta(meta, 4, uint64(len(vals)), nil)
	}
	rawUpdate(t, path, rawFile)
	s := openAt(t, path, Options{})
	if got := get(t, s, "b", "s"); got != vals[2] {
		t.Fatalf("the inline long row reads %d bytes, want %d", len(got), len(vals[2]))
	}
	vals = append(vals, streamed(303))
	put(t, s, "b", "s", vals[3])
	for after := range uint64(len(vals)) {
		evs, err := s.ChangesSince(after, storage.Filter{Table: "b"}, 0)
		if err != nil || len(evs) != len(vals)-int(after) {
			t.Fatalf("ChangesSince(%d) = %d events, %v; want %d", after, len(evs), err, len(vals)-int(after))
		}
		for i, ev := range evs {
			if want := vals[int(after)+i]; string(ev.Changes[0].Value) != want {
				t.Fatalf("ChangesSince(%d): version %d has %d bytes, want %d", after, ev.Version, len(ev.Changes[0].Value), len(want))
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if f := getRawUint(t, path, keyFormat); f != formatVersion {
		t.Fatalf("after the upgrade: format %d, want %d", f, formatVersion)
	}
	if d := getRawUint(t, path, keyDeltaSince); d != 1 {
		t.Fatalf("after the upgrade: undos logged from version %d, want 1 as before", d)
	}
	db, err := bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	head := bytes.Clone(func() (v []byte) {
		_ = db.View(func(tx *bbolt.Tx) error {
			v = bytes.Clone(tx.Bucket([]byte(tablePrefix + "b")).Get([]byte("s")))
			return nil
		})
		return v
	}())
	db.Close()
	if !isHead(head) {
		t.Fatalf("the row rewritten after the upgrade is stored inline (%d bytes), want segmented", len(head))
	}
	if rep, err := Check(path, CheckOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Check after the upgrade: %v %+v", err, rep)
	}
}

func getRawUint(t *testing.T, path string, key []byte) uint64 {
	t.Helper()
	v := rawMeta(t, path, key)
	if len(v) != 8 {
		t.Fatalf("meta %s: %d bytes", key, len(v))
	}
	return uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32 | uint64(v[4])<<24 | uint64(v[5])<<16 | uint64(v[6])<<8 | uint64(v[7])
}
