package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// TestAuditOldFileWithoutBucket: a file written before the audit existed
// (no audit bucket) opens, keeps its data, gets the bucket, and audits the
// writes from then on; Check finds nothing wrong with it.
func TestAuditOldFileWithoutBucket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s := openAt(t, path, Options{Tables: []string{"a"}})
	put(t, s, "a", "old", "1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		return errors.Join(tx.DeleteBucket([]byte(auditName)), tx.DeleteBucket([]byte(auditTailName)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, Options{Tables: []string{"a"}})
	if got, _, err := s.Audit(storage.AuditQuery{}); err != nil || len(got) != 0 {
		t.Fatalf("audit of the old file: %+v, %v; want none", got, err)
	}
	v, err := s.Update(storage.WithCause(context.Background(), []byte("alice")), func(w *storage.WriteTx) error {
		return w.Put("a", "new", []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Audit(storage.AuditQuery{})
	if err != nil || len(got) != 1 || got[0].Version != v || string(got[0].Cause) != "alice" {
		t.Fatalf("audit after a write: %+v, %v; want alice's v%d", got, err, v)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(path, CheckOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("Check: %v, problems %v", err, rep.Problems)
	}
}

// TestAuditDamagedRecord: a record whose bytes changed is reported as a
// damaged audit record naming its version, not served.
func TestAuditDamagedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s := openAt(t, path, Options{Tables: []string{"a"}})
	v, err := s.Update(storage.WithCause(context.Background(), []byte("alice")), func(w *storage.WriteTx) error {
		return w.Put("a", "k", []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(auditTailName)) // the newest records are there
		rec := append([]byte(nil), b.Get(versionKey(v))...)
		rec[len(rec)-1] ^= 0xff
		return b.Put(versionKey(v), rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{Tables: []string{"a"}})
	_, _, err = s.Audit(storage.AuditQuery{})
	var ce *storage.CorruptError
	if !errors.As(err, &ce) || ce.Table != storage.AuditLabel || ce.Key != fmt.Sprint(v) {
		t.Fatalf("reading a damaged audit record: %v, want a CorruptError naming the audit and v%d", err, v)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(path, CheckOptions{})
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Table != storage.AuditLabel || rep.Problems[0].Key != fmt.Sprint(v) {
		t.Fatalf("Check: %v, problems %v; want the audit record of v%d", err, rep.Problems, v)
	}
}

// TestAuditTailMovesToTheBucket: records collect in the tail, which stays
// small enough for bbolt to keep inline, and move to the audit bucket
// together; reads see both, in order.
func TestAuditTailMovesToTheBucket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s, d := openDriver(t, path, Options{Tables: []string{"a"}, NoSync: true}, storage.Options{})
	for i := range 40 {
		if _, err := s.Update(storage.WithCause(context.Background(), []byte(fmt.Sprintf(`{"sub":"user-%d"}`, i))), func(w *storage.WriteTx) error {
			return w.Put("a", fmt.Sprint(i), []byte("v"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	var inTail, inBucket int
	err := d.db.View(func(tx *bbolt.Tx) error {
		size := 16
		_ = tx.Bucket([]byte(auditTailName)).ForEach(func(k, v []byte) error { inTail++; size += 16 + len(k) + len(v); return nil })
		inBucket = tx.Bucket([]byte(auditName)).Stats().KeyN
		if size > 1024 {
			t.Errorf("the audit tail holds %d bytes: over a quarter page, bbolt does not keep it inline", size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inTail == 0 || inBucket == 0 || inTail+inBucket != 40 {
		t.Fatalf("%d records in the tail and %d in the bucket, want 40 split between both", inTail, inBucket)
	}
	for _, reverse := range []bool{false, true} {
		got, _, err := s.Audit(storage.AuditQuery{Reverse: reverse})
		if err != nil || len(got) != 40 {
			t.Fatalf("reverse %v: %d entries, %v", reverse, len(got), err)
		}
		for i, e := range got {
			want := uint64(i + 1)
			if reverse {
				want = uint64(40 - i)
			}
			if e.Version != want || string(e.Cause) != fmt.Sprintf(`{"sub":"user-%d"}`, want-1) {
				t.Fatalf("reverse %v: entry %d is v%d %s, want v%d", reverse, i, e.Version, e.Cause, want)
			}
		}
	}
}
