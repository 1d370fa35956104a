package bolt

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/bolt/damage"
)

// opensFast reports whether Open would take the fast path for the file at
// path: closed cleanly, not written since.
func opensFast(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	lay, problems := verify(f, fi.Size(), cleanFast)
	if len(problems) > 0 {
		t.Fatalf("%s: %v", path, problems)
	}
	return lay.fast
}

// TestCleanCloseSavesFreelist: Close saves the free list, so the next Open
// reads it; an open that writes nothing keeps it; the first write clears
// it, so a crash after it leaves a file that gets the full check; and the
// data survives each step.
func TestCleanCloseSavesFreelist(t *testing.T) {
	clean, crashed := healthyFiles(t)
	if opensFast(t, crashed) {
		t.Fatal("a file copied before Close (a crash) would open without the full check")
	}
	if !opensFast(t, clean) {
		t.Fatal("a cleanly closed file would not open fast")
	}
	d, err := Open(clean, Options{Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	s := storage.New(d, storage.Options{})
	if got := rows(t, s, "a"); len(got) != 400 {
		t.Fatalf("table a reads %d rows after a fast open, want 400", len(got))
	}
	reopened := filepath.Join(t.TempDir(), "reopened.db")
	copyFile(t, clean, reopened) // a crash after an open that wrote nothing
	if !opensFast(t, reopened) {
		t.Error("an open that wrote nothing cleared the saved free list")
	}
	// Writes made while the tree is walked after a fast open keep the free
	// list saved (see walkAfterFastOpen); the walk of this file is short.
	d.walked.Wait()
	put(t, s, "b", "after", `{"n":1}`)
	written := filepath.Join(t.TempDir(), "written.db")
	copyFile(t, clean, written) // a crash after a write
	if opensFast(t, written) {
		t.Error("a file written since its clean close would open without the full check")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !opensFast(t, clean) {
		t.Error("the second Close did not save the free list")
	}
	for _, p := range []string{clean, written} {
		s := openAt(t, p, Options{})
		if got := rows(t, s, "b"); got["after"] != `{"n":1}` || len(got) != 4 {
			t.Errorf("%s: table b = %v", filepath.Base(p), got)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if rep, err := Check(p, CheckOptions{}); err != nil || !rep.OK() {
			t.Fatalf("Check of %s: %v %v", filepath.Base(p), err, rep.Problems)
		}
	}
}

// fastOpenMisses are the damage variants a fast open does not read: bit rot
// in a page of the tree or in a value after a clean close. They must be met
// by the reads that reach them, as ErrCorrupt, and by Check.
var fastOpenMisses = []string{"random-bytes-in-a-branch-page", "random-bytes-in-a-leaf-page", "flipped-byte-in-a-value"}

// TestDamageAfterCleanClose: damage to a cleanly closed file is refused by
// Open when it lies in what a fast open reads (meta pages, free list, the
// file's length); otherwise reading every row and log record meets it as
// ErrCorrupt, never a panic, and Check always reports it.
func TestDamageAfterCleanClose(t *testing.T) {
	healthy := healthyFile(t)
	for _, v := range damage.Variants([]byte(victimMarker)) {
		t.Run(v.Name, func(t *testing.T) {
			path := damagedCopy(t, healthy, v)
			s, err := OpenStore(path, Options{Tables: testTables})
			missed := slices.Contains(fastOpenMisses, v.Name)
			switch {
			case err != nil && (!errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), path)):
				t.Fatalf("Open: %v; want storage.ErrCorrupt naming %s", err, path)
			case err == nil && !missed:
				s.Close()
				t.Fatal("Open of the damaged file succeeded")
			case err == nil:
				readErr := readAll(s)
				s.Close()
				if !errors.Is(readErr, storage.ErrCorrupt) {
					t.Fatalf("reading every row of the damaged file: %v; want storage.ErrCorrupt", readErr)
				}
				t.Logf("read: %v", readErr)
			}
			rep, err := Check(path, CheckOptions{})
			if err != nil || rep.OK() {
				t.Fatalf("Check: %v %+v; want problems", err, rep)
			}
		})
	}
}

// readAll reads every row of testTables and the whole change log, and
// returns the first error.
func readAll(s *storage.Store) error {
	for _, table := range testTables {
		err := s.View(func(tx *storage.ReadTx) error {
			_, _, err := tx.Scan(table, storage.ScanOptions{Limit: storage.MaxScanLimit})
			return err
		})
		if err != nil {
			return err
		}
	}
	_, err := s.ChangesSince(0, storage.Filter{}, 0)
	return err
}
