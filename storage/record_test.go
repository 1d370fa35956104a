package storage_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
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

// TestChangeRecordBytes: the bytes the drivers wrote before they shared
// the codec (bbolt's format-3 records, PostgreSQL's log rows: both wrote
// count, then per change table, key, op and value, lengths as uvarints)
// are what AppendChanges writes and what DecodeChanges reads. The round
// trips elsewhere write with AppendChanges too, so a change of layout
// would pass them and leave every stored record unreadable.
func TestChangeRecordBytes(t *testing.T) {
	long := strings.Repeat("k", 200) // a length of two varint bytes
	cs := []storage.Change{
		{Table: "a", Key: "k1", Op: storage.OpPut, Value: []byte(`{"n":1}`)},
		{Table: "b", Key: long, Op: storage.OpDelete},
	}
	golden := []byte("\x02" +
		"\x01a" + "\x02k1" + "\x01" + "\x07{\"n\":1}" +
		"\x01b" + "\xc8\x01" + long + "\x02" + "\x00")
	if got := storage.AppendChanges(nil, cs); !bytes.Equal(got, golden) {
		t.Errorf("AppendChanges = %q,\nwant the stored layout %q", got, golden)
	}
	got, rest, err := storage.DecodeChanges(golden)
	if err != nil || len(rest) != 0 || !reflect.DeepEqual(got, cs) {
		t.Errorf("DecodeChanges(stored record) = %+v, rest %q, %v; want %+v", got, rest, err, cs)
	}
	// A delete's value field is read past, whatever it holds.
	got, _, err = storage.DecodeChanges([]byte("\x01\x01b\x01k\x02\x03old"))
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], storage.Change{Table: "b", Key: "k", Op: storage.OpDelete}) {
		t.Errorf("a delete written with a value: %+v, %v", got, err)
	}
}
