package client_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/tools"
)

// TestConcurrentReconnectsDialOnce: callers that saw the same connection
// fail reconnect once, and nothing they dialled outlives Close.
func TestConcurrentReconnectsDialOnce(t *testing.T) {
	eng, err := backend.Open(config(), backend.Options{Path: filepath.Join(t.TempDir(), "r.db"), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ts, err := tools.New(eng, tools.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	url, stopHTTP := serveTools(t, ts)
	defer stopHTTP()
	c, err := client.DialHTTP(context.Background(), url, client.Options{Legacy: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Reconnect(context.Background(), 0) }()
	}
	wg.Wait()
	// The old connection's GET stream may reach the server after its DELETE
	// (mcp-go's client sends it asynchronously, and Close does not wait for
	// it); the server then opens a session for it under the old ID until it
	// sees the request abandoned. So wait for the count to settle: a
	// connection dialled and kept beside the new one never leaves.
	deadline := time.Now().Add(testWait)
	for ts.Stats().Sessions != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := ts.Stats().Sessions; n != 1 {
		t.Errorf("after 4 concurrent reconnects of one failed connection: %d server sessions, want 1", n)
	}
	c.Close()
	deadline = time.Now().Add(testWait)
	for ts.Stats().Sessions != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := ts.Stats().Sessions; n != 0 {
		t.Errorf("%d server sessions left %v after Close", n, testWait)
	}
}

func serveTools(t *testing.T, ts *tools.Server) (string, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	urlc, done := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(done)
		_ = ts.ServeHTTP(ctx, "127.0.0.1:0", tools.HTTPOptions{}, func(u string) { urlc <- u })
	}()
	return <-urlc + tools.PathStreamable, func() { cancel(); <-done }
}

// TestReconnectPartialResubscribeRecovers: a Reconnect whose ctx ends
// while it re-subscribes (2025-11-25, one URI at a time) left the rest
// unsubscribed for the connection's life, since the new connection worked
// and nothing reconnected again (found in review). It now closes the new
// connection, so the watchers' next read fails and reconnects.
func TestReconnectPartialResubscribeRecovers(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, true)
	ctx := testCtx(t)
	for _, k := range []string{"x", "y"} {
		w, err := client.Watch(ctx, c, items, client.Selector{Key: k}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		go func() {
			for {
				if _, err := w.Next(ctx); err != nil {
					return
				}
			}
		}()
	}
	if n := s.ts.Stats().Subscriptions; n != 2 {
		t.Fatalf("%d subscriptions, want 2", n)
	}
	s.delay.Store(int64(300 * time.Millisecond))
	rctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	err := c.Reconnect(rctx, 0)
	cancel()
	if err == nil {
		t.Fatal("the Reconnect meant to fail part-way succeeded")
	}
	s.delay.Store(0)
	deadline := time.Now().Add(testWait) // the watchers' 2 s poll, then a reconnect
	for s.ts.Stats().Subscriptions != 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.ts.Stats().Subscriptions; n != 2 {
		t.Errorf("%d subscriptions %v after the failed reconnect, want 2 (both still watched)", n, testWait)
	}
}
