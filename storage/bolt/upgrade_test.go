package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/mcp-sync/mcp-sync/storage"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// writeFormat2 writes, with raw bbolt, the file format 2 wrote: values and
// log records without checksums, the newest records in the meta bucket's
// tail. Versions 1..15 each put one row; 13..15 are in the tail.
func writeFormat2(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]map[string]string{"a": {}, "b": {}}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(metaBucket)
		log, _ := tx.CreateBucket(logBucket)
		ta, _ := tx.CreateBucket([]byte(tablePrefix + "a"))
		tb, _ := tx.CreateBucket([]byte(tablePrefix + "b"))
		var tail []byte
		for v := uint64(1); v <= 15; v++ {
			table, b := "a", ta
			if v%3 == 0 {
				table, b = "b", tb
			}
			key, val := fmt.Sprintf("k%02d", v), fmt.Sprintf(`{"n":%d}`, v)
			want[table][key] = val
			if err := b.Put([]byte(key), []byte(val)); err != nil {
				return err
			}
			rec := encodeChanges(0, []storage.Change{{Table: table, Key: key, Op: storage.OpPut, Value: []byte(val)}})
			if v <= 12 {
				if err := log.Put(versionKey(v), rec); err != nil {
					return err
				}
				continue
			}
			tail = appendTailRecord(tail, v, rec)
		}
		return finishOldMeta(meta, 2, 15, tail)
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// appendTailRecord frames version's record rec onto a log tail.
func appendTailRecord(tail []byte, version uint64, rec []byte) []byte {
	tail = binary.AppendUvarint(tail, version)
	tail = binary.AppendUvarint(tail, uint64(len(rec)))
	return append(tail, rec...)
}

// finishOldMeta writes the meta keys of an old file of format at version,
// with its log tail.
func finishOldMeta(meta *bbolt.Bucket, format, version uint64, tail []byte) error {
	for k, v := range map[string]uint64{"format": format, "schemaVersion": 0, "version": version, "logFloor": 0} {
		if err := putUint(meta, []byte(k), v); err != nil {
			return err
		}
	}
	return meta.Put(keyLogTail, tail)
}

func rawMeta(t *testing.T, path string, key []byte) []byte {
	t.Helper()
	db, err := bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	_ = db.View(func(tx *bbolt.Tx) error {
		v = bytes.Clone(tx.Bucket(metaBucket).Get(key))
		return nil
	})
	return v
}

// TestUpgradeFromFormat2: a format-2 file is upgraded on open; an upgrade
// cut off between batches leaves a file the next open finishes, with every
// row and log record as it was (none rewritten twice).
func TestUpgradeFromFormat2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	want := writeFormat2(t, path)

	stop := errors.New("cut off")
	batches := 0
	_, err := OpenStore(path, Options{Tables: testTables, upgradeBatch: 4, afterUpgradeBatch: func() error {
		if batches++; batches == 2 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) {
		t.Fatalf("Open cut off after two batches: %v", err)
	}
	if f := rawMeta(t, path, keyFormat); binary.BigEndian.Uint64(f) != 2 || rawMeta(t, path, keyUpgrade) == nil {
		t.Fatalf("after the cut: format %x, upgrade position %q; want format 2 and a position", f, rawMeta(t, path, keyUpgrade))
	}
	if rep, err := Check(path, CheckOptions{}); err != nil || rep.OK() || !strings.Contains(rep.Problems[0].What, "upgrade was cut off") {
		t.Fatalf("Check of a half-upgraded file: %v %+v", err, rep)
	}

	var logged bytes.Buffer
	s, err := OpenStore(path, Options{Tables: testTables, upgradeBatch: 4, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatalf("Open resuming the upgrade: %v", err)
	}
	for table, rowsWant := range want {
		equalRows(t, rows(t, s, table), rowsWant)
	}
	evs, err := s.ChangesSince(0, storage.Filter{Table: "a"}, 0)
	if err != nil {
		t.Fatalf("ChangesSince after the upgrade: %v", err)
	}
	if len(evs) != 10 || evs[9].Version != 14 || string(evs[9].Changes[0].Value) != `{"n":14}` {
		t.Fatalf("log after the upgrade: %d events, last %+v", len(evs), evs[len(evs)-1])
	}
	put(t, s, "a", "new", `{"n":16}`)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "data file upgraded") {
		t.Errorf("the upgrade logged:\n%s", logged.String())
	}
	if f := binary.BigEndian.Uint64(rawMeta(t, path, keyFormat)); f != formatVersion || rawMeta(t, path, keyUpgrade) != nil {
		t.Fatalf("after the upgrade: format %d, position %q", f, rawMeta(t, path, keyUpgrade))
	}
	if rep, err := Check(path, CheckOptions{}); err != nil || !rep.OK() || rep.LogRecords != 16 {
		t.Fatalf("Check after the upgrade: %v %+v", err, rep)
	}
}

// writeFormat3 writes, with raw bbolt, the file format 3 wrote: values and
// log records with checksums, each record holding full values. Versions
// 1..14 grow row b/s, version 9 deletes row b/d; 12..14 are in the tail.
func writeFormat3(t *testing.T, path string) (want map[uint64]string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want = map[uint64]string{}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(metaBucket)
		log, _ := tx.CreateBucket(logBucket)
		_, _ = tx.CreateBucket([]byte(tablePrefix + "a"))
		name := []byte(tablePrefix + "b")
		tb, _ := tx.CreateBucket(name)
		var tail []byte
		text := ""
		for v := uint64(1); v <= 14; v++ {
			c := storage.Change{Table: "b", Key: "s", Op: storage.OpPut}
			switch v {
			case 8:
				c.Key, c.Value = "d", []byte("doomed")
			case 9:
				c.Key, c.Op = "d", storage.OpDelete
			default:
				text += fmt.Sprint(v, ";")
				c.Value = []byte(text)
				want[v] = text
			}
			if c.Op == storage.OpPut {
				if err := tb.Put([]byte(c.Key), sealValue(name, []byte(c.Key), c.Value)); err != nil {
					return err
				}
			} else if err := tb.Delete([]byte(c.Key)); err != nil {
				return err
			}
			rec := sealRecord(v, encodeChanges(0, []storage.Change{c}))
			if v <= 11 {
				if err := log.Put(versionKey(v), rec); err != nil {
					return err
				}
				continue
			}
			tail = appendTailRecord(tail, v, rec)
		}
		return finishOldMeta(meta, 3, 14, tail)
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestUpgradeFromFormat3: a format-3 file opens without rewriting a row;
// its change log, full values before the upgrade and undos after it, reads
// back whole from every version, also after a reopen, and checks clean.
func TestUpgradeFromFormat3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	want := writeFormat3(t, path)
	s, err := OpenStore(path, Options{Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	text := want[14]
	for v := uint64(15); v <= 30; v++ {
		text += fmt.Sprint(v, ";")
		want[v] = text
		if got := put(t, s, "b", "s", text); got != v {
			t.Fatalf("put committed as version %d, want %d", got, v)
		}
	}
	check := func() {
		t.Helper()
		for after := uint64(0); after < 30; after++ {
			evs, err := s.ChangesSince(after, storage.Filter{Table: "b", Key: "s"}, 0)
			if err != nil {
				t.Fatalf("ChangesSince(%d): %v", after, err)
			}
			n := 0
			for v := after + 1; v <= 30; v++ {
				if _, ok := want[v]; !ok {
					continue
				}
				if n >= len(evs) || evs[n].Version != v || string(evs[n].Changes[0].Value) != want[v] {
					t.Fatalf("ChangesSince(%d): event %d of %d is %+v, want version %d = %q", after, n, len(evs), evs[min(n, len(evs)-1)], v, want[v])
				}
				n++
			}
			if n != len(evs) {
				t.Fatalf("ChangesSince(%d): %d events, want %d", after, len(evs), n)
			}
		}
		evs, err := s.ChangesSince(8, storage.Filter{Table: "b", Key: "d"}, 0)
		if err != nil || len(evs) != 1 || evs[0].Version != 9 || evs[0].Changes[0].Op != storage.OpDelete {
			t.Fatalf("the delete at version 9: %+v, %v", evs, err)
		}
	}
	check()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if f := binary.BigEndian.Uint64(rawMeta(t, path, keyFormat)); f != formatVersion {
		t.Fatalf("after the upgrade: format %d", f)
	}
	if since := binary.BigEndian.Uint64(rawMeta(t, path, keyDeltaSince)); since != 15 {
		t.Fatalf("records logged as undos from version %d, want 15", since)
	}
	if rep, err := Check(path, CheckOptions{}); err != nil || !rep.OK() || rep.LogRecords != 30 {
		t.Fatalf("Check after the upgrade: %v %+v", err, rep)
	}
	s, err = OpenStore(path, Options{Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check()
}

// encodeChanges lays out changes in format 3 (full values) after skip zero
// bytes: what only files of older formats hold.
func encodeChanges(skip int, cs []storage.Change) []byte {
	return storage.AppendChanges(make([]byte, skip), cs)
}
