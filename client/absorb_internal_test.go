package client

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mcp-sync/mcp-sync/wire"
)

type row struct {
	N int `json:"n"`
}

func put(v uint64, key string, n int) wire.SyncEvent {
	return wire.SyncEvent{Version: v, Changes: []wire.SyncChange{{Key: key, Op: "put", Value: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}}}
}

// TestAbsorb: a watcher takes a notice's events only when the notice goes on
// from its cursor, skips what it has read, keeps what its selector selects,
// and on anything it cannot use (a gap, a bare notice, a value it cannot
// decode) asks the server, having queued nothing twice.
func TestAbsorb(t *testing.T) {
	newW := func(cursor uint64, sel Selector) *Watcher[row] {
		return newWatcher[row](nil, "t", sel, cursor, &inbox{}, func() {})
	}
	versions := func(w *Watcher[row]) string {
		s := ""
		for _, ev := range w.pending {
			s += fmt.Sprint(ev.Version, " ")
		}
		return s + fmt.Sprint("cursor ", w.cursor)
	}
	cases := []struct {
		name    string
		cursor  uint64
		sel     Selector
		notices []*wire.ChangeNotice
		current bool
		want    string
	}{
		{"goes on from the cursor", 10, Selector{}, []*wire.ChangeNotice{
			{After: 10, Version: 12, Events: []wire.SyncEvent{put(11, "a", 1), put(12, "b", 2)}},
			{After: 12, Version: 13, Events: []wire.SyncEvent{put(13, "a", 3)}},
		}, true, "11 12 13 cursor 13"},
		{"starts before the cursor: the read part skipped", 11, Selector{}, []*wire.ChangeNotice{
			{After: 9, Version: 12, Events: []wire.SyncEvent{put(10, "a", 1), put(12, "b", 2)}},
		}, true, "12 cursor 12"},
		{"already read", 20, Selector{}, []*wire.ChangeNotice{
			{After: 9, Version: 12, Events: []wire.SyncEvent{put(12, "a", 1)}},
		}, true, "cursor 20"},
		{"a gap: ask", 10, Selector{}, []*wire.ChangeNotice{
			{After: 11, Version: 12, Events: []wire.SyncEvent{put(12, "a", 1)}},
		}, false, "cursor 10"},
		{"a gap after a usable one: ask from there", 10, Selector{}, []*wire.ChangeNotice{
			{After: 10, Version: 11, Events: []wire.SyncEvent{put(11, "a", 1)}},
			{After: 12, Version: 13, Events: []wire.SyncEvent{put(13, "a", 2)}},
		}, false, "11 cursor 11"},
		{"bare: ask", 10, Selector{}, []*wire.ChangeNotice{nil}, false, "cursor 10"},
		{"prefix: other keys move the cursor only", 10, Selector{Prefix: "p/"}, []*wire.ChangeNotice{
			{After: 10, Version: 12, Events: []wire.SyncEvent{put(11, "q/1", 1), put(12, "p/1", 2)}},
		}, true, "12 cursor 12"},
		{"a key set: the prefix is ignored, as storage and get_row ignore it", 10, Selector{Key: "a", Prefix: "zz/"}, []*wire.ChangeNotice{
			{After: 10, Version: 11, Events: []wire.SyncEvent{put(11, "a", 1)}},
		}, true, "11 cursor 11"},
		{"undecodable: ask, nothing queued", 10, Selector{}, []*wire.ChangeNotice{
			{After: 10, Version: 12, Events: []wire.SyncEvent{put(11, "a", 1), {Version: 12, Changes: []wire.SyncChange{{Key: "b", Op: "put", Value: json.RawMessage(`"text"`)}}}}},
		}, false, "cursor 10"},
		{"no notices (taken by an earlier wake-up): nothing to ask", 10, Selector{}, nil, true, "cursor 10"},
	}
	for _, c := range cases {
		w := newW(c.cursor, c.sel)
		w.fresh = false
		if got := w.absorb(c.notices); got != c.current || versions(w) != c.want {
			t.Errorf("%s: absorb = %v, %s; want %v, %s", c.name, got, versions(w), c.current, c.want)
		}
	}
	w := newW(0, Selector{}) // fresh: a snapshot comes first, notices or not
	if w.absorb([]*wire.ChangeNotice{{After: 0, Version: 1, Events: []wire.SyncEvent{put(1, "a", 1)}}}) || len(w.pending) != 0 {
		t.Error("a watcher awaiting its snapshot took a notice")
	}
}
