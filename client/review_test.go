package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/wire"
)

// Regression tests for what a review of the client found.

// TestReplicaWaitWithAQuietTable: the replica follows two tables; a
// mutation of one is confirmed although the other never changes (Wait used
// to hang until some write touched the quiet table, or the poll read it).
// The poll is put off past the test's deadline, so that only a
// confirmation that needs neither ends the wait.
func TestReplicaWaitWithAQuietTable(t *testing.T) {
	s := newServer(t)
	r := replica(t, dial(t, s, false))
	client.SetReplicaPoll(r, 2*testWait)
	ctx := testCtx(t)
	for i := range 3 {
		p, err := client.MutateLocal(ctx, r, put, PutIn{Key: fmt.Sprint("q", i), Name: "n"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("mutation %d not confirmed while the notes table stayed quiet: %v", i, err)
		}
	}
}

// TestConfirmedMeansVisible: once Wait returns, the replica shows the
// mutation, even when another client's write arrived in the same fetch
// (the watcher used to report a version it had fetched but not yet handed
// over, confirming too early).
func TestConfirmedMeansVisible(t *testing.T) {
	s := newServer(t)
	r := replica(t, dial(t, s, false))
	ctx := testCtx(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // someone else writing all the time
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = s.eng.Mutate(ctx, "put", json.RawMessage(fmt.Sprintf(`{"key":"other%d","name":"x"}`, i%5)))
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := range 30 {
		key := fmt.Sprint("mine", i)
		p, err := client.MutateLocal(ctx, r, put, PutIn{Key: key, Name: "mine"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if it, ok, _ := client.Get(r, items, key); !ok || it.Name != "mine" {
			t.Fatalf("mutation %d confirmed but the replica shows %+v (found %v)", i, it, ok)
		}
	}
}

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

// TestLegacySubscribeWhileNotified: over SSE (which delivers notifications
// on the goroutine that reads replies), subscribing while updates arrive
// does not deadlock.
func TestLegacySubscribeWhileNotified(t *testing.T) {
	s := newServer(t)
	c, err := client.DialHTTP(context.Background(), s.srv.URL+tools.PathSSE, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, _, err := c.Subscribe(ctx, wire.TableURI("items")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = s.eng.Mutate(ctx, "put", json.RawMessage(fmt.Sprintf(`{"key":"k%d","name":"n"}`, i%10)))
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := range 20 {
		sctx, cancel := context.WithTimeout(ctx, testWait)
		_, _, err := c.Subscribe(sctx, wire.RowURI("notes", fmt.Sprint("r", i)))
		cancel()
		if err != nil {
			t.Fatalf("subscribe %d while updates arrive: %v", i, err)
		}
	}
}

// TestNewReplicaFailsFast: a table the server does not serve makes
// NewReplica fail with the server's word, not wait for its context.
func TestNewReplicaFailsFast(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, false)
	ghost := schema.Table[Item]("ghost")
	cfg := config()
	cfg.Schema = schema.MustDefine(1, items, notes, locks, ghost, put, bump, lockKey, stream, rename)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := client.NewReplica(ctx, c, cfg, client.ReplicaOptions{Logger: quiet()}, "items", "ghost", "ghost")
	if err == nil || ctx.Err() != nil {
		t.Fatalf("NewReplica with a table the server lacks: %v after %v", err, time.Since(start))
	}
}

// TestReplicaCloseEndsWaits: Close ends the waits of mutations not yet
// confirmed.
func TestReplicaCloseEndsWaits(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, false)
	ctx := testCtx(t)
	r, err := client.NewReplica(ctx, c, config(), client.ReplicaOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := client.MutateLocal(ctx, r, put, PutIn{Key: "slow", Name: "n", SlowMs: 2000})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := p.Wait(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("Wait after Close: %v", err)
	}
}

// TestListenStreamReopens: on 2026-07-28 updates come on one
// subscriptions/listen stream; when the network cuts it, it is opened again
// and updates keep coming.
func TestListenStreamReopens(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, false)
	ctx := testCtx(t)
	updates, stop, err := c.Subscribe(ctx, wire.RowURI("items", "live"))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// Writes every 100 ms until one is announced: the stream is re-opened
	// after a back-off, which a loaded machine stretches.
	got := func() bool {
		for i, deadline := 0, time.Now().Add(testWait); time.Now().Before(deadline); i++ {
			if _, err := s.eng.Mutate(ctx, "put", json.RawMessage(fmt.Sprintf(`{"key":"live","name":"v%d"}`, i))); err != nil {
				t.Fatal(err)
			}
			select {
			case <-updates:
				return true
			case <-time.After(100 * time.Millisecond):
			}
		}
		return false
	}
	if !got() {
		t.Fatalf("no update within %v before the cut", testWait)
	}
	s.cut()
	if !got() {
		t.Fatalf("no update within %v of the listen stream being cut", testWait)
	}
}

// TestRebaseKeepsRowsOfUnfollowedTables: a pending mutation's local write to
// a table the replica does not follow (the server-only locks) survives a
// rebase, as it did before rebases ran in one commit: only the followed
// tables are reset to the server's state.
func TestRebaseKeepsRowsOfUnfollowedTables(t *testing.T) {
	s := newServer(t)
	r := replica(t, dial(t, s, false))
	ctx := testCtx(t)
	slow, err := client.MutateLocal(ctx, r, put, PutIn{Key: "p", Name: "pending", SlowMs: 300})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.MutateLocal(ctx, r, lockKey, KeyIn{Key: "z"}); err != nil {
		t.Fatal(err)
	}
	// A change from elsewhere while both are pending: the replica rebases.
	if _, err := s.eng.Mutate(ctx, "put", json.RawMessage(`{"key":"other","name":"from elsewhere"}`)); err != nil {
		t.Fatal(err)
	}
	waitItem(t, r, "other", "from elsewhere")
	if err := slow.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Settled(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.Get("locks", "z"); err != nil || !ok {
		t.Errorf("the local lock row is gone after the rebases (ok=%v, err=%v)", ok, err)
	}
}
