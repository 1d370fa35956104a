package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/storage"
)

// TestFastOpenWalksTheTree: after a fast open of a sound file, the walk of
// the tree completes without finding damage and commits stop writing the
// free list (until then they write it: see walkAfterFastOpen).
func TestFastOpenWalksTheTree(t *testing.T) {
	path := healthyFile(t)
	if !opensFast(t, path) {
		t.Fatal("a cleanly closed file does not open fast")
	}
	d, err := Open(path, Options{Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.walked.Wait()
	if d.damage() != nil {
		t.Fatalf("a sound file was found damaged: %v", d.damage())
	}
	if !d.db.NoFreelistSync { // Wait orders this read after the walk's write
		t.Error("after the walk, commits still write the free list")
	}
}

// TestFastOpenWalkFindsDamage: a cleanly closed file whose branch pages
// point a child at the free-list page (damage a fast open does not read) is
// found damaged by the walk after the open, so writes are refused with
// ErrCorrupt even where they never reach the damage (table b has no branch
// page). Before, such damage stayed unread until a read met it, and a
// commit that failed (a full disk) had bbolt rebuild its free list by
// walking the tree in a goroutine that panics on it.
func TestFastOpenWalkFindsDamage(t *testing.T) {
	path := healthyFile(t)
	pointBranchesAtFreelist(t, path)
	if !opensFast(t, path) {
		t.Fatal("the damaged file does not open fast: the test needs damage a fast open does not read")
	}
	d, err := Open(path, Options{Tables: testTables})
	if err != nil {
		t.Fatalf("a fast open refused the file: %v", err)
	}
	s := storage.New(d, storage.Options{})
	defer s.Close()
	d.walked.Wait()
	_, err = s.Update(context.Background(), func(w *storage.WriteTx) error {
		return w.Put("b", "elsewhere", []byte(`{"x":1}`))
	})
	if !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("a write after the walk of a damaged file: %v, want ErrCorrupt", err)
	}
}

// pointBranchesAtFreelist points every branch page's last child at the
// free-list page of the closed file at path.
func pointBranchesAtFreelist(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	var branches []int
	freelist := -1
	ps := db.Info().PageSize
	err = db.View(func(tx *bbolt.Tx) error {
		for id := 0; ; id++ {
			info, err := tx.Page(id)
			if err != nil || info == nil {
				return err
			}
			switch info.Type {
			case "branch":
				branches = append(branches, info.ID)
			case "freelist":
				freelist = info.ID
			}
			if info.Type != "free" {
				id += info.OverflowCount
			}
		}
	})
	db.Close()
	if err != nil || len(branches) == 0 || freelist < 0 {
		t.Fatalf("reading the page layout: %v; branches %v, free list %d", err, branches, freelist)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, b := range branches {
		hdr := make([]byte, 16)
		if _, err := f.ReadAt(hdr, int64(b*ps)); err != nil {
			t.Fatal(err)
		}
		count := binary.NativeEndian.Uint16(hdr[10:])
		var pg [8]byte
		binary.NativeEndian.PutUint64(pg[:], uint64(freelist))
		if _, err := f.WriteAt(pg[:], int64(b*ps+16+int(count-1)*16+8)); err != nil {
			t.Fatal(err)
		}
	}
}
