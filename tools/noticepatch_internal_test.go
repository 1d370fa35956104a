package tools

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mcp-sync/mcp-sync/wire"
)

// TestPriorsPatchRowsRewritten: a row rewritten goes as a patch of its
// previous version only where that version is known to be its previous
// value; otherwise, and when asked for no patches, whole. The changes it
// was given are left as they were (other clients' notices share them).
func TestPriorsPatchRowsRewritten(t *testing.T) {
	put := func(key, value string) wire.SyncChange {
		return wire.SyncChange{Key: key, Op: wire.OpPut, Value: json.RawMessage(value)}
	}
	long := func(s string) string {
		return fmt.Sprintf(`{"text":"%s","status":"generating, a status of some length"}`, s)
	}
	var p priors
	ops := func(v uint64, patch bool, cs ...wire.SyncChange) string {
		out := p.note(v, cs, patch)
		s := ""
		for i, c := range out {
			if cs[i].Op != wire.OpPut && cs[i].Op != wire.OpDelete {
				t.Fatalf("note changed its input: %+v", cs[i])
			}
			s += fmt.Sprintf("%s%d%s%s ", c.Op, c.Base, c.Append, c.Merge)
		}
		return s
	}
	for _, tc := range []struct {
		got, want string
	}{
		{ops(1, true, put("a", long("Hel"))), "put0 "},                                                        // nothing before it
		{ops(2, true, put("a", long("Hello"))), `patch1{"text":"lo"} `},                                       // base: version 1
		{ops(3, false, put("a", long("Hello,"))), "put0 "},                                                    // no patches asked for: kept all the same
		{ops(4, true, put("a", long("Hello, w"))), `patch3{"text":" w"} `},                                    // …so the next goes on from it
		{ops(5, true, put("a", long("Hello, wo")), put("a", long("Hello, wor"))), `patch4{"text":"o"} put0 `}, // twice in one version
		{ops(6, true, wire.SyncChange{Key: "a", Op: wire.OpDelete}), "delete0 "},
		{ops(7, true, put("a", long("x"))), "put0 "}, // after a delete
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	p.reset()
	if got := ops(8, true, put("a", long("xy"))); got != "put0 " {
		t.Errorf("after a reset: %q, want a put", got)
	}
	for i := range 2 * maxPriorRows {
		p.note(uint64(9+i), []wire.SyncChange{put(fmt.Sprint("k", i), `{}`)}, true)
	}
	if got := ops(9+2*maxPriorRows, true, put("a", long("xyz"))); got != "put0 " {
		t.Errorf("a row pushed out by %d others: %q, want a put", 2*maxPriorRows, got)
	}
	if len(p.cur) > maxPriorRows || len(p.old) > maxPriorRows {
		t.Errorf("kept %d + %d rows, at most %d a generation", len(p.cur), len(p.old), maxPriorRows)
	}
}
