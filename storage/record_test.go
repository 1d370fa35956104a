package storage_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// TestChangeRecords: what AppendChanges writes, DecodeChanges reads back
// (after any prefix, leaving what follows); a record cut anywhere, or with
// an op no driver writes, is ErrBadRecord, never a panic.
func TestChangeRecords(t *testing.T) {
	cs := []storage.Change{
		{Table: "a", Key: "k1", Op: storage.OpPut, Value: []byte(`{"n":1}`)},
		{Table: "b", Key: "", Op: storage.OpDelete},
		{Table: "a", Key: "k2", Op: storage.OpPut, Value: []byte{}},
	}
	rec := storage.AppendChanges([]byte("pre"), cs)
	got, rest, err := storage.DecodeChanges(append(rec[3:], "post"...))
	if err != nil || string(rest) != "post" {
		t.Fatalf("DecodeChanges: rest %q, %v", rest, err)
	}
	// DeepEqual tells nil from empty: the empty value is checked apart.
	if got[2].Value == nil || len(got[2].Value) != 0 {
		t.Errorf("empty value read back as %#v", got[2].Value)
	}
	got[2].Value, cs[2].Value = nil, nil
	if !reflect.DeepEqual(got, cs) {
		t.Errorf("DecodeChanges = %+v, want %+v", got, cs)
	}
	if got, rest, err := storage.DecodeChanges(storage.AppendChanges(nil, nil)); err != nil || len(got) != 0 || len(rest) != 0 {
		t.Errorf("no changes: %v, rest %q, %v", got, rest, err)
	}

	whole := rec[3:]
	for n := range len(whole) {
		if _, _, err := storage.DecodeChanges(whole[:n]); !errors.Is(err, storage.ErrBadRecord) {
			t.Errorf("record cut to %d of %d bytes: %v, want ErrBadRecord", n, len(whole), err)
		}
	}
	bad := storage.AppendChanges(nil, []storage.Change{{Table: "a", Key: "k", Op: 3}})
	if _, _, err := storage.DecodeChanges(bad); !errors.Is(err, storage.ErrBadRecord) {
		t.Errorf("op 3: %v, want ErrBadRecord", err)
	}
}
