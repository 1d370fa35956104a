package tools

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

type rvItem struct {
	N int `json:"n"`
}
type rvIn struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

var (
	rvItems = schema.Table[rvItem]("items")
	rvPut   = schema.Mutator[rvIn]("put", "put")
	rvApp   = schema.MustDefine(1, rvItems, rvPut)
)

// TestResubscribeWhileSendBlocked: a legacy client unsubscribes from a URI
// and subscribes again while a notice of it is being sent into a full
// channel. The owed notice, put back, must not claim the changes committed
// while the client was unsubscribed (it did: it was merged with the next one
// into a notice for (after, next] lacking them, found in review).
func TestResubscribeWhileSendBlocked(t *testing.T) {
	eng, err := backend.Open(backend.Config{Schema: rvApp, Mutators: []backend.MutatorImpl{
		backend.Mutator(rvPut, func(ctx *backend.MutatorCtx, in rvIn) error {
			return backend.TableOf(ctx, rvItems).Set(in.Key, rvItem{N: in.N})
		})}}, backend.Options{Path: filepath.Join(t.TempDir(), "a.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	put := func(n int) uint64 {
		raw, _ := json.Marshal(rvIn{Key: "a", N: n})
		v, err := eng.Mutate(context.Background(), "put", raw)
		if err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	r := newRegistry(eng, slog.New(slog.DiscardHandler), 300*time.Millisecond)
	defer r.close()
	table, other := wire.TableURI("items"), wire.RowURI("items", "zzz")
	gate := make(chan struct{})
	var mu sync.Mutex
	var sent []string
	calls := 0
	send := func(uri, changes string) error {
		if uri != table {
			return nil
		}
		mu.Lock()
		calls++
		call := calls
		mu.Unlock()
		switch call {
		case 1: // the marking goroutine's own flush finds the queue full…
			return server.ErrNotificationChannelBlocked
		case 2: // …and the client's sender, poked, is still sending into it
			<-gate
			return server.ErrNotificationChannelBlocked
		}
		mu.Lock()
		sent = append(sent, changes)
		mu.Unlock()
		return nil
	}
	r.add(t.Context(), "k", true, send, other, table)
	v1 := put(1) // noted; the sender blocks in send
	for {
		mu.Lock()
		c := calls
		mu.Unlock()
		if c == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r.remove("k", table)
	v2 := put(2) // while unsubscribed
	time.Sleep(50 * time.Millisecond)
	r.add(t.Context(), "k", true, send, table)
	close(gate) // the owed notice goes back into dirty
	time.Sleep(20 * time.Millisecond)
	v3 := put(3)
	deadline := time.Now().Add(30 * time.Second) // a loaded machine is slow
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(sent)
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("v1=%d v2=%d v3=%d sent=%q", v1, v2, v3, sent)
	for _, s := range sent {
		if s == "" {
			continue
		}
		n, err := wire.DecodeNotice(table, []byte(s))
		if err != nil {
			t.Errorf("notice %s: %v", s, err)
			continue
		}
		if n.After < v2 && n.Version >= v2 {
			has := false
			for _, ev := range n.Events {
				has = has || ev.Version == v2
			}
			if !has {
				t.Errorf("notice (after %d, through %d] lacks version %d: a watcher at %d applies it and misses the change", n.After, n.Version, v2, v1)
			}
		}
	}
}
