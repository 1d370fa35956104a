package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/schema"
)

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
	defer s.writeConstantly(ctx, "other", 5, "x")() // someone else writing all the time
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

// writeConstantly has another writer put rows prefix0 … prefix(n-1) in
// turn, all the time, until the function it returns is called (which waits
// for the writer to stop).
func (s *server) writeConstantly(ctx context.Context, prefix string, n int, name string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			_, _ = s.eng.Mutate(ctx, "put", json.RawMessage(fmt.Sprintf(`{"key":"%s%d","name":%q}`, prefix, i%n, name)))
		}
	}()
	return func() { close(done); wg.Wait() }
}
