package wire_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/wire"
)

// TestJSONShapes fixes what clients in any language decode: a renamed
// field or a lost omitempty breaks them, so it must break this first.
func TestJSONShapes(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		v    any
		want string
	}{
		{wire.GetRowIn{Table: "t", Key: "k"}, `{"table":"t","key":"k"}`},
		{wire.GetRowOut{Table: "t", Key: "k", Found: true, Value: json.RawMessage(`{"a":1}`), Version: 7}, `{"table":"t","key":"k","found":true,"value":{"a":1},"version":7}`},
		{wire.GetRowOut{Table: "t", Key: "k", Version: 7}, `{"table":"t","key":"k","found":false,"version":7}`},
		{wire.ListRowsIn{Table: "t"}, `{"table":"t"}`},
		{wire.ListRowsIn{Table: "t", Prefix: "p", After: "a", Limit: 5, Reverse: true}, `{"table":"t","prefix":"p","after":"a","limit":5,"reverse":true}`},
		{wire.ListRowsOut{Table: "t", Rows: []wire.Row{{Key: "a", Value: json.RawMessage(`{}`)}, {Key: "b", Value: json.RawMessage(`null`), Damaged: "d"}}, Next: "b", Version: 3},
			`{"table":"t","rows":[{"key":"a","value":{}},{"key":"b","value":null,"damaged":"d"}],"next":"b","version":3}`},
		{wire.GetRunIn{ID: "r"}, `{"id":"r"}`},
		{wire.Run{ID: "r", Action: "a", Input: json.RawMessage(`{}`), Status: "queued", EnqueuedBy: "m", Version: 2, EnqueuedAt: at},
			`{"id":"r","action":"a","input":{},"status":"queued","attempts":0,"enqueuedBy":"m","version":2,"enqueuedAt":"2026-12-06T12:00:00Z"}`},
		{wire.MutateOut{Version: 4}, `{"version":4}`},
		{wire.MutateOut{Version: 4, Runs: []string{"r"}}, `{"version":4,"runs":["r"]}`},
		{wire.SyncChangesIn{Table: "t", After: 1}, `{"table":"t","after":1}`},
		{wire.SyncChangesOut{Events: []wire.SyncEvent{{Version: 2, Changes: []wire.SyncChange{{Key: "k", Op: wire.OpPut, Value: json.RawMessage(`{}`)}, {Key: "j", Op: wire.OpDelete}}}}, Version: 2},
			`{"events":[{"version":2,"changes":[{"key":"k","op":"put","value":{}},{"key":"j","op":"delete"}]}],"version":2}`},
		{wire.SyncPushIn{Client: "c", Seq: 1, Mutator: "m", Args: json.RawMessage(`{}`)}, `{"client":"c","seq":1,"mutator":"m","args":{}}`},
		{wire.SyncPushOut{Version: 3, Applied: true}, `{"version":3,"applied":true}`},
		{wire.SyncStateIn{Client: "c"}, `{"client":"c"}`},
		{wire.SyncStateOut{Seq: 1, Version: 2, At: 3}, `{"seq":1,"version":2,"at":3}`},
		{wire.ErrorMeta{Kind: wire.KindBusy}, `{"kind":"busy"}`},
		{wire.SyncChange{Key: "k", Op: wire.OpPatch, Base: 3, Append: json.RawMessage(`{"text":"more"}`), Merge: json.RawMessage(`{"n":2}`)},
			`{"key":"k","op":"patch","base":3,"append":{"text":"more"},"merge":{"n":2}}`},
	}
	for _, tc := range cases {
		got, err := json.Marshal(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%T: %s, %v; want %s", tc.v, got, err, tc.want)
		}
	}
}

// TestBoundsInTagsMatchConstants: a struct tag cannot name a constant, so
// the bounds the schemas publish are written twice; they must agree.
func TestBoundsInTagsMatchConstants(t *testing.T) {
	for _, tc := range []struct {
		typ   reflect.Type
		field string
		max   int
	}{
		{reflect.TypeFor[wire.ListRowsIn](), "Limit", wire.MaxListLimit},
		{reflect.TypeFor[wire.SyncChangesIn](), "Limit", wire.MaxChangesLimit},
		{reflect.TypeFor[wire.ListHistoryIn](), "Limit", wire.MaxHistoryLimit},
	} {
		f, _ := tc.typ.FieldByName(tc.field)
		if tag := f.Tag.Get("jsonschema"); !strings.Contains(tag+",", ",maximum="+strconv.Itoa(tc.max)+",") {
			t.Errorf("%s.%s: tag %q does not say maximum=%d", tc.typ.Name(), tc.field, tag, tc.max)
		}
	}
	if !strings.Contains(listLimitTag(), "0 means "+strconv.Itoa(wire.DefaultListLimit)) {
		t.Error("ListRowsIn.Limit's description does not give DefaultListLimit")
	}
	f, _ := reflect.TypeFor[wire.ListHistoryIn]().FieldByName("Limit")
	if !strings.Contains(f.Tag.Get("jsonschema"), "0 means "+strconv.Itoa(wire.DefaultHistoryLimit)) {
		t.Error("ListHistoryIn.Limit's description does not give DefaultHistoryLimit")
	}
}

func listLimitTag() string {
	f, _ := reflect.TypeFor[wire.ListRowsIn]().FieldByName("Limit")
	return f.Tag.Get("jsonschema")
}
