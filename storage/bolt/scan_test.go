package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// TestScanValuesAreOwnCopies: the values of a page share blocks of memory,
// yet each is the caller's own: appending to one or writing into it
// changes no other value and nothing stored.
func TestScanValuesAreOwnCopies(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "scan.db"), Options{Tables: []string{"a"}})
	want := map[string]string{}
	if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
		for i := range 5 {
			k, v := fmt.Sprintf("k%d", i), fmt.Sprintf(`{"n":%d}`, i)
			want[k] = v
			if err := w.Put("a", k, []byte(v)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	scan := func() []storage.KV {
		var kvs []storage.KV
		if err := s.View(func(tx *storage.ReadTx) error {
			var err error
			kvs, _, err = tx.Scan("a", storage.ScanOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return kvs
	}
	kvs := scan()
	_ = append(kvs[0].Value, `XXXXXXXX`...)
	kvs[2].Value[0] = '!'
	for i, kv := range kvs {
		if i != 2 && string(kv.Value) != want[kv.Key] {
			t.Errorf("after changing other values, %s reads %s, want %s", kv.Key, kv.Value, want[kv.Key])
		}
	}
	for _, kv := range scan() {
		if string(kv.Value) != want[kv.Key] {
			t.Errorf("a second scan reads %s = %s, want %s", kv.Key, kv.Value, want[kv.Key])
		}
	}
}
