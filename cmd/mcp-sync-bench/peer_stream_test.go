package main

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-sync/mcp-sync/wire"
)

// TestStreamRunSettle: changes-carrying notices are credited to the chunks
// they name only once the round is over, and one that does not decode
// fails the round.
func TestStreamRunSettle(t *testing.T) {
	uri := wire.RowURI("rows", "live-1")
	r := &streamRun{uri: uri, starts: make([]atomic.Int64, 4), covered: map[*peerSession]int{}}
	t0 := time.Now().UnixNano()
	for n := 1; n <= 3; n++ {
		r.starts[n].Store(t0 + int64(n)*int64(time.Millisecond))
	}
	sub := &peerSession{}
	notice := func(raw string) *sdk.ResourceUpdatedNotificationParams {
		return &sdk.ResourceUpdatedNotificationParams{URI: uri, Meta: sdk.Meta{wire.ChangesMetaKey: raw}}
	}
	time.Sleep(5 * time.Millisecond) // every chunk's write has started
	// Chunks 1 and 2 in one notice (coalesced), chunk 3 in the next.
	r.noticed(sub, notice(`{"a":10,"e":[[11,{"+":{"text":"a"},"m":{"n":1}}],[12,{"+":{"text":"b"},"m":{"n":2}}]]}`))
	r.noticed(sub, notice(`{"a":12,"e":[[13,{"+":{"text":"c"},"m":{"n":3}}]]}`))
	if r.received != 3 || len(r.exact) != 0 || r.notices != 2 {
		t.Fatalf("before settling: received %d, exact %d, notices %d; want 3 (scanned), 0, 2", r.received, len(r.exact), r.notices)
	}
	if err := r.settle(); err != nil {
		t.Fatal(err)
	}
	if r.received != 3 || len(r.exact) != 3 {
		t.Fatalf("settled: received %d, exact %d; want 3, 3", r.received, len(r.exact))
	}
	for _, d := range r.exact {
		if d <= 0 {
			t.Fatalf("a latency of %v", d)
		}
	}
	r.noticed(sub, notice(`{"a":13,"e":[[14,{"+":`))
	if err := r.settle(); err == nil || !strings.Contains(err.Error(), "do not decode") {
		t.Fatalf("a notice that does not decode: %v", err)
	}
}
