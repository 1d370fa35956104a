package wire_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/wire"
)

// TestNoticeForm: the compact form of a notice, exactly, and that it reads
// back as what was encoded: a row's key is left out on its own URI, a
// patch's base when it is the previous event's version (after, for the
// first), the notice's version when it is its last event's.
func TestNoticeForm(t *testing.T) {
	row := wire.RowURI("rows", "live/1")
	table := wire.TableURI("rows")
	patch := func(key string, base uint64, a, m string) wire.SyncChange {
		c := wire.SyncChange{Key: key, Op: wire.OpPatch, Base: base}
		if a != "" {
			c.Append = json.RawMessage(a)
		}
		if m != "" {
			c.Merge = json.RawMessage(m)
		}
		return c
	}
	put := wire.SyncChange{Key: "live/1", Op: wire.OpPut, Value: json.RawMessage(`{"text":"x","n":1}`)}
	cases := []struct {
		name, uri string
		n         wire.ChangeNotice
		want      string
	}{
		{"a streamed chunk on its row's URI", row,
			wire.ChangeNotice{After: 41, Version: 42, Events: []wire.SyncEvent{{Version: 42, Changes: []wire.SyncChange{patch("live/1", 41, `{"text":"chunk"}`, `{"n":7}`)}}}},
			`{"a":41,"e":[[42,{"+":{"text":"chunk"},"m":{"n":7}}]]}`},
		{"coalesced chunks: each base the previous event", row,
			wire.ChangeNotice{After: 41, Version: 43, Events: []wire.SyncEvent{
				{Version: 42, Changes: []wire.SyncChange{patch("live/1", 41, `{"text":"a"}`, "")}},
				{Version: 43, Changes: []wire.SyncChange{patch("live/1", 42, "", `{"n":8}`)}}}},
			`{"a":41,"e":[[42,{"+":{"text":"a"}}],[43,{"m":{"n":8}}]]}`},
		{"the first notice after subscribing: the base named", row,
			wire.ChangeNotice{After: 50, Version: 51, Events: []wire.SyncEvent{{Version: 51, Changes: []wire.SyncChange{patch("live/1", 30, `{"text":"a"}`, "")}}}},
			`{"a":50,"e":[[51,{"b":30,"+":{"text":"a"}}]]}`},
		{"a patch with no edits", row,
			wire.ChangeNotice{After: 1, Version: 2, Events: []wire.SyncEvent{{Version: 2, Changes: []wire.SyncChange{patch("live/1", 1, "", `{}`)}}}},
			`{"a":1,"e":[[2,{"m":{}}]]}`},
		{"a table's notice names its rows", table,
			wire.ChangeNotice{After: 1, Version: 3, Events: []wire.SyncEvent{
				{Version: 2, Changes: []wire.SyncChange{put, {Key: "b\"", Op: wire.OpDelete}}},
				{Version: 3, Changes: []wire.SyncChange{patch("live/1", 2, `{"text":"y"}`, "")}}}},
			`{"a":1,"e":[[2,{"k":"live/1","p":{"text":"x","n":1}},{"k":"b\"","d":true}],[3,{"k":"live/1","+":{"text":"y"}}]]}`},
		{"another row's change on a row's URI keeps its key", row,
			wire.ChangeNotice{After: 1, Version: 2, Events: []wire.SyncEvent{{Version: 2, Changes: []wire.SyncChange{{Key: "other", Op: wire.OpDelete}}}}},
			`{"a":1,"e":[[2,{"k":"other","d":true}]]}`},
		{"an echo", row, wire.ChangeNotice{After: 9, Version: 9}, `{"a":9,"v":9}`},
		{"a version past the last event", table,
			wire.ChangeNotice{After: 1, Version: 5, Events: []wire.SyncEvent{{Version: 2, Changes: []wire.SyncChange{put}}}},
			`{"a":1,"v":5,"e":[[2,{"k":"live/1","p":{"text":"x","n":1}}]]}`},
	}
	for _, tc := range cases {
		got, err := wire.EncodeNotice(tc.uri, tc.n)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: EncodeNotice = %s, %v; want %s", tc.name, got, err, tc.want)
			continue
		}
		back, err := wire.DecodeNotice(tc.uri, got)
		if err != nil || !reflect.DeepEqual(back, tc.n) {
			t.Errorf("%s: DecodeNotice(%s) = %+v, %v; want %+v", tc.name, got, back, err, tc.n)
		}
	}
}

// TestNoticeFormRefused: what cannot be encoded makes the notification go
// without its changes; what does not decode is an error naming what is
// wrong, never a guess.
func TestNoticeFormRefused(t *testing.T) {
	row, table := wire.RowURI("rows", "r"), wire.TableURI("rows")
	for _, c := range []wire.SyncChange{
		{Key: "r", Op: wire.OpPut, Value: json.RawMessage(`{"a":`)},
		{Key: "r", Op: wire.OpPatch, Base: 1, Merge: json.RawMessage(`nope`)},
		{Key: "r", Op: "rename"},
	} {
		n := wire.ChangeNotice{After: 1, Version: 2, Events: []wire.SyncEvent{{Version: 2, Changes: []wire.SyncChange{c}}}}
		if got, err := wire.EncodeNotice(row, n); err == nil {
			t.Errorf("EncodeNotice of %+v = %s, no error", c, got)
		}
	}
	for _, tc := range []struct{ uri, data, want string }{
		{row, `{"e":[[2,{"d":true}]]}`, "no after"},
		{row, `{"a":1}`, "no version"},
		{row, `{"a":1,"e":[[2,{"p":{},"d":true}]]}`, "one of a put"},
		{row, `{"a":1,"e":[[2,{}]]}`, "one of a put"},
		{row, `{"a":1,"e":[[2,{"p":{},"m":{}}]]}`, "one of a put"},
		{row, `{"a":1,"e":[[2,{"b":1}]]}`, "one of a put"},
		{table, `{"a":1,"e":[[2,{"d":true}]]}`, "without its key"},
		{row, `{"a":1,"e":[[]]}`, "not [version"},
		{row, `{"a":1,"e":[{"v":2}]}`, "a notice of"},
		{row, `{"a":1,"e":[["2"]]}`, "version"},
		{row, `{"a":1,"e":[[2,[1]]]}`, "a change"},
		{row, `{"a":-1,"v":2}`, "a notice of"},
		{row, `["a",1]`, "a notice of"},
		{row, `{"a":1,"v":2`, "a notice of"},
	} {
		if _, err := wire.DecodeNotice(tc.uri, []byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeNotice(%s, %s) = %v; want an error saying %q", tc.uri, tc.data, err, tc.want)
		}
	}
}

// FuzzNoticeRoundTrip: whatever DecodeNotice accepts encodes again to
// something that decodes to the same notice.
func FuzzNoticeRoundTrip(f *testing.F) {
	f.Add(wire.RowURI("rows", "r"), `{"a":41,"e":[[42,{"+":{"text":"chunk"},"m":{"n":7}}]]}`)
	f.Add(wire.TableURI("rows"), `{"a":1,"v":5,"e":[[2,{"k":"r","p":{"n":1}},{"k":"q","d":true}],[3,{"k":"r","b":2,"m":{}}]]}`)
	f.Fuzz(func(t *testing.T, uri, data string) {
		n, err := wire.DecodeNotice(uri, []byte(data))
		if err != nil {
			return
		}
		enc, err := wire.EncodeNotice(uri, n)
		if err != nil {
			t.Fatalf("a decoded notice %+v does not encode: %v", n, err)
		}
		again, err := wire.DecodeNotice(uri, enc)
		if err != nil || !reflect.DeepEqual(again, n) {
			t.Fatalf("%s → %s → %+v, %v; want %+v", data, enc, again, err, n)
		}
	})
}
