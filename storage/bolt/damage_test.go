package bolt

import (
	"context"
	"errors"
	"fmt"
	"github.com/mcp-sync/mcp-sync/storage"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage/bolt/damage"
)

const victimMarker = "VICTIM-ROW-0123456789-abcdefghij"

// healthyFile writes a closed data file big enough to have branch pages:
// 400 rows in table a, and in table b the row "victim" whose value holds
// victimMarker, the row "other", and the row "long", stored in segments
// (so each kind of damage also meets a segments bucket).
func healthyFile(t *testing.T) string {
	t.Helper()
	path, _ := healthyFiles(t)
	return path
}

// healthyFiles is healthyFile, and also returns a copy of the file taken
// before its Close: what a crash after the last write leaves.
func healthyFiles(t *testing.T) (clean, crashed string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "healthy.db")
	crashed = filepath.Join(t.TempDir(), "crashed.db")
	s, err := OpenStore(path, Options{Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		mustUpdate(t, s, func(w *storage.WriteTx) error {
			for j := range 100 {
				if err := w.Put("a", fmt.Sprintf("row%04d", i*100+j), []byte(strings.Repeat("x", 250))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	put(t, s, "b", "long", strings.Repeat("segmented ", 4*segSize/10))
	put(t, s, "b", "victim", `{"text":"`+victimMarker+`"}`)
	put(t, s, "b", "other", `{"text":"fine"}`)
	copyFile(t, path, crashed)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, crashed
}

// damagedCopy copies the healthy file and applies v to the copy.
func damagedCopy(t *testing.T, healthy string, v damage.Variant) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "damaged.db")
	copyFile(t, healthy, path)
	if err := v.Apply(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedFilesRefused: in a file not closed cleanly, every kind of
// damage makes Open fail with ErrCorrupt naming the file (a panic would end
// the test binary), and Check report it; the flipped value byte names its
// table and key.
func TestDamagedFilesRefused(t *testing.T) {
	_, healthy := healthyFiles(t)
	if rep, err := Check(healthy, CheckOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Check of the healthy file: %v %+v", err, rep)
	}
	for _, v := range damage.Variants([]byte(victimMarker)) {
		t.Run(v.Name, func(t *testing.T) {
			path := damagedCopy(t, healthy, v)
			s, err := OpenStore(path, Options{Tables: testTables})
			if err == nil {
				s.Close()
				t.Fatal("Open of the damaged file succeeded")
			}
			if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open: %v; want storage.ErrCorrupt naming %s", err, path)
			}
			if v.RowDamage && !strings.Contains(err.Error(), `table b: key "victim"`) {
				t.Errorf("Open does not name the damaged row: %v", err)
			}
			t.Logf("Open: %v", err)
			rep, err := Check(path, CheckOptions{})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if rep.OK() {
				t.Fatalf("Check found nothing wrong: %+v", rep)
			}
			named := slices.ContainsFunc(rep.Problems, func(p Problem) bool { return p.Table == "b" && p.Key == "victim" })
			if v.RowDamage && !named {
				t.Errorf("Check does not name the row b/victim: %v", rep.Problems)
			}
			t.Logf("Check: %v", rep.Problems)
		})
	}
}

// TestFlippedValueByte: a row whose value changed on disk is reported as
// ErrCorrupt naming its table and key, by Get and by Scan, never served;
// the other rows read; rewriting the row repairs it.
func TestFlippedValueByte(t *testing.T) {
	path := healthyFile(t)
	var flip damage.Variant
	for _, v := range damage.Variants([]byte(victimMarker)) {
		if v.RowDamage {
			flip = v
		}
	}
	if err := flip.Apply(path); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path, Options{AllowDamagedRows: true})
	var ce *storage.CorruptError
	err := s.View(func(tx *storage.ReadTx) error {
		_, _, err := tx.Get("b", "victim")
		return err
	})
	if !errors.As(err, &ce) || !errors.Is(err, storage.ErrCorrupt) || ce.Table != "b" || ce.Key != "victim" {
		t.Fatalf("Get of the damaged row: %v; want a storage.CorruptError for b/victim", err)
	}
	if strings.Contains(err.Error(), path) || strings.Contains(err.Error(), filepath.Dir(path)) {
		t.Errorf("the read error carries the file's path: %v", err)
	}
	err = s.View(func(tx *storage.ReadTx) error {
		_, _, err := tx.Scan("b", storage.ScanOptions{})
		return err
	})
	if !errors.As(err, &ce) || ce.Key != "victim" {
		t.Fatalf("Scan over the damaged row: %v; want a storage.CorruptError for b/victim", err)
	}
	// The change log rebuilds values from the table: a subscriber catching
	// up over the damaged row is not served it either, but told to read a
	// snapshot (whose read of the row names the damage), naming the row.
	_, err = s.ChangesSince(0, storage.Filter{Table: "b"}, 0)
	if !errors.Is(err, storage.ErrResync) || !strings.Contains(err.Error(), `"victim"`) || strings.Contains(err.Error(), filepath.Dir(path)) {
		t.Fatalf("ChangesSince over the damaged row: %v; want ErrResync naming the row, without the file's path", err)
	}
	if got := rows(t, s, "a"); len(got) != 400 {
		t.Errorf("table a reads %d rows, want 400", len(got))
	}
	err = s.View(func(tx *storage.ReadTx) error {
		v, ok, err := tx.Get("b", "other")
		if err != nil || !ok || string(v) != `{"text":"fine"}` {
			return fmt.Errorf("b/other = %q %v %v", v, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	at := put(t, s, "b", "victim", `{"text":"repaired"}`) // writes still work: the file's structure is intact
	if got := rows(t, s, "b"); got["victim"] != `{"text":"repaired"}` {
		t.Fatalf("after the rewrite b = %v", got)
	}
	// From the rewrite on, the log serves the row again.
	at2 := put(t, s, "b", "victim", `{"text":"repaired twice"}`)
	evs, err := s.ChangesSince(at-1, storage.Filter{Table: "b"}, 0)
	if err != nil || len(evs) != 2 || evs[0].Version != at || string(evs[0].Changes[0].Value) != `{"text":"repaired"}` ||
		evs[1].Version != at2 || string(evs[1].Changes[0].Value) != `{"text":"repaired twice"}` {
		t.Fatalf("ChangesSince(%d) after the rewrite: %v, %v", at-1, evs, err)
	}
}

// TestFaultWhileServingBecomesErrCorrupt: a file truncated under an open
// store makes bbolt fault on its memory map; the read fails with ErrCorrupt
// instead of killing the process, and the store refuses writes after it.
func TestFaultWhileServingBecomesErrCorrupt(t *testing.T) {
	path := healthyFile(t)
	s := openAt(t, path, Options{})
	if err := os.Truncate(path, 2*4096); err != nil {
		t.Fatal(err)
	}
	err := s.View(func(tx *storage.ReadTx) error {
		_, _, err := tx.Scan("a", storage.ScanOptions{Limit: storage.MaxScanLimit})
		return err
	})
	if !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Scan of a truncated file: %v; want storage.ErrCorrupt", err)
	}
	_, err = s.Update(context.Background(), func(w *storage.WriteTx) error { return w.Put("b", "k", []byte("v")) })
	if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), "writes refused") {
		t.Fatalf("Update after the fault: %v; want writes refused with storage.ErrCorrupt", err)
	}
	if strings.Contains(err.Error(), path) {
		t.Errorf("the write error carries the file's path: %v", err)
	}
}

// TestViewPassesCallersPanic: View still lets a panic of the caller's own
// function through: it is a bug to see, not damage.
func TestViewPassesCallersPanic(t *testing.T) {
	s := openTemp(t, Options{})
	defer func() {
		if p := recover(); p != "mine" {
			t.Fatalf("recovered %v, want the caller's panic", p)
		}
		put(t, s, "a", "k", "v") // and the store still writes
	}()
	_ = s.View(func(*storage.ReadTx) error { panic("mine") })
}
