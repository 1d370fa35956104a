package bolt

import (
	"context"
	"errors"
	"fmt"
	"github.com/mcp-sync/mcp-sync/storage"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// TestLogTailAndBucketReadInOrder mixes records small enough for the log
// tail with ones too big for it, across a reopen, and reads the log back
// whole and in pages of every size: versions in order, none missing or
// repeated, values intact.
func TestLogTailAndBucketReadInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s := openAt(t, path, Options{Tables: testTables, NoSync: true})
	want := map[uint64]string{}
	write := func(n int) {
		for i := range n {
			size := 3
			switch i % 7 {
			case 3:
				size = 300 // two of these outgrow the tail
			case 5:
				size = 5000 // bigger than the tail on its own
			}
			val := strings.Repeat(string(rune('a'+i%26)), size)
			v := put(t, s, "a", fmt.Sprint("k", i%5), val)
			want[v] = val
			if i%11 == 0 {
				put(t, s, "b", "other", "x") // filtered out below
			}
		}
	}
	check := func() {
		t.Helper()
		all, err := s.ChangesSince(0, storage.Filter{Table: "a"}, 100000)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(want) {
			t.Fatalf("%d events, want %d", len(all), len(want))
		}
		for i, ev := range all {
			if i > 0 && ev.Version <= all[i-1].Version {
				t.Fatalf("event %d: version %d after %d", i, ev.Version, all[i-1].Version)
			}
			if got := string(ev.Changes[0].Value); got != want[ev.Version] {
				t.Fatalf("version %d: value %.10q…, want %.10q…", ev.Version, got, want[ev.Version])
			}
		}
		for _, limit := range []int{1, 2, 3, 7, 50} {
			var got []storage.Event
			after := uint64(0)
			for {
				page, err := s.ChangesSince(after, storage.Filter{Table: "a"}, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				after = page[len(page)-1].Version
			}
			if len(got) != len(all) {
				t.Fatalf("paged by %d: %d events, want %d", limit, len(got), len(all))
			}
			for i := range got {
				if got[i].Version != all[i].Version {
					t.Fatalf("paged by %d: event %d is version %d, want %d", limit, i, got[i].Version, all[i].Version)
				}
			}
		}
	}
	write(60)
	check()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{Tables: testTables, NoSync: true})
	check()
	write(25)
	check()
	// A subscriber catching up from the log reads the same records.
	sub := subscribe(t, s, storage.Filter{Table: "a"}, 0)
	seen := 0
	for seen < len(want) {
		ev := next(t, sub)
		if ev.Resync || string(ev.Changes[0].Value) != want[ev.Version] {
			t.Fatalf("subscriber event %+v does not match the log", ev)
		}
		seen++
	}
}

// TestLogTrimIsLazyButFloorExact: the floor moves with every commit past
// the retention window, while the records under it are deleted in chunks,
// so the log bucket stays bounded.
func TestLogTrimIsLazyButFloorExact(t *testing.T) {
	const retention = 10
	s, d := openDriver(t, filepath.Join(t.TempDir(), "data.db"), Options{Tables: testTables, LogRetention: retention, NoSync: true}, storage.Options{})
	for i := range 3 * trimChunk {
		put(t, s, "a", fmt.Sprint("k", i), strings.Repeat("v", 200)) // too big for the tail
		v := s.Version()
		if v <= retention {
			continue
		}
		if _, err := s.ChangesSince(v-retention-1, storage.Filter{Table: "a"}, 0); !errors.Is(err, storage.ErrResync) {
			t.Fatalf("at version %d, ChangesSince(%d) = %v, want storage.ErrResync", v, v-retention-1, err)
		}
		evs, err := s.ChangesSince(v-retention, storage.Filter{Table: "a"}, 0)
		if err != nil || len(evs) != retention {
			t.Fatalf("at version %d, ChangesSince(%d) = %d events, %v; want %d", v, v-retention, len(evs), err, retention)
		}
	}
	var n int
	if err := d.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(logBucket).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n > retention+trimChunk {
		t.Fatalf("log bucket holds %d records, want ≤ %d", n, retention+trimChunk)
	}
}

// TestSmallCommitPageWrites counts the pages a lone small commit writes
// (bbolt's own statistics): the small table and the meta bucket, whose log
// tail holds the record, are inline in the root page; that page and bbolt's
// meta page are all it writes, with no free-list page. Before the log tail
// and NoFreelistSync it wrote 4.3 (measured): the log's leaf and branch and
// the free list besides.
func TestSmallCommitPageWrites(t *testing.T) {
	s, d := openDriver(t, filepath.Join(t.TempDir(), "data.db"), Options{Tables: testTables}, storage.Options{})
	for i := range 20 { // settle: the first commits allocate
		put(t, s, "a", fmt.Sprint("k", i%4), "a small value")
	}
	writes := func() int64 { st := d.db.Stats(); return st.TxStats.GetWrite() }
	before := writes()
	const n = 100
	for i := range n {
		put(t, s, "a", fmt.Sprint("k", i%4), "a small value")
	}
	perCommit := float64(writes()-before) / n
	t.Logf("%.2f pages written per commit", perCommit)
	if perCommit > 2.5 {
		t.Fatalf("%.2f pages written per lone small commit, want ≤ 2.5 (the root page and the meta page)", perCommit)
	}
}

// TestStreamLogsWhatChanged streams 500 chunks of 20 B into a row (100 B
// growing to 10 KB) and measures the change log: it must hold what changed,
// not copies of the row (which would be 5 MB), and the commits must write
// no more pages than bare bbolt rewriting the same row (bbolt's own
// statistics, default options: it writes its free list each commit).
func TestStreamLogsWhatChanged(t *testing.T) {
	const chunks = 500
	s, d, bare := streamFiles(t)
	writes := func(db *bbolt.DB) int64 { st := db.Stats(); return st.TxStats.GetWrite() }
	ours0, bare0 := writes(d.db), writes(bare)
	for n := 1; n <= chunks; n++ {
		v := streamed(n)
		put(t, s, "a", "answer", v)
		if err := bare.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("a")).Put([]byte("answer"), []byte(v)) }); err != nil {
			t.Fatal(err)
		}
	}
	oursW, bareW := float64(writes(d.db)-ours0)/chunks, float64(writes(bare)-bare0)/chunks
	var logBytes int
	if err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(logBucket).Cursor()
		for k, v := c.Seek(versionKey(301)); k != nil; k, v = c.Next() {
			logBytes += len(v)
		}
		recs, err := decodeTail(tx.Bucket(metaBucket).Get(keyLogTail), false)
		for _, r := range recs {
			if r.version > 300 {
				logBytes += len(r.data)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("log: %d B per chunk; page writes per commit: %.2f, bare bbolt %.2f", logBytes/chunks, oursW, bareW)
	if logBytes/chunks > 120 {
		t.Errorf("the log holds %d B per chunk, want ≤ 120: what changed, not the row", logBytes/chunks)
	}
	if oursW > bareW {
		t.Errorf("%.2f page writes per commit, more than bare bbolt's %.2f", oursW, bareW)
	}
}

// TestReadLogInsideAWrite: a write function reading the log after
// rewriting a row the log holds gets the committed values, not ones
// rebuilt from its own, not yet logged, write.
func TestReadLogInsideAWrite(t *testing.T) {
	s, d := openDriver(t, filepath.Join(t.TempDir(), "data.db"), Options{Tables: testTables, NoSync: true}, storage.Options{})
	put(t, s, "a", "row", "first value")
	put(t, s, "a", "row", "first value, grown")
	var got []string
	_, err := d.Update(context.Background(), func(tx storage.DriverWriteTx) ([]storage.Change, error) {
		stored, err := tx.Put("a", "row", []byte("rewritten inside"))
		if err != nil {
			return nil, err
		}
		err = tx.ReadLog(0, tx.Version()-1, func(_ uint64, cs []storage.Change) bool {
			got = append(got, string(cs[0].Value))
			return true
		})
		return []storage.Change{{Table: "a", Key: "row", Op: storage.OpPut, Value: stored}}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"first value", "first value, grown"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("the log read inside a write: %q, want %q", got, want)
	}
}
