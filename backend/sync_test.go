package backend_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
)

// TestOnceAppliesEachSeqOnce: a push retried after a lost reply is
// recognised by (client, seq) and not applied again, even when the retries
// race.
func TestOnceAppliesEachSeqOnce(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e := open(t, (&testApp{}).config(), filepath.Join(t.TempDir(), "a.db"), drv)
		ctx := context.Background()
		item := func(id, name string) json.RawMessage {
			b, _ := json.Marshal(Item{ID: id, Name: name})
			return b
		}
		p1, err := e.Mutate(ctx, "putItem", item("x", "one"), backend.Once("c1", 1))
		if err != nil || p1.Duplicate || p1.Version == 0 {
			t.Fatalf("first push: %+v %v", p1, err)
		}
		// The retry: same seq, even with different content, changes nothing.
		again, err := e.Mutate(ctx, "putItem", item("x", "changed"), backend.Once("c1", 1))
		if err != nil || !again.Duplicate || again.Version != p1.Version || e.Version() != p1.Version {
			t.Fatalf("retried push: %+v %v (version now %d)", again, err, e.Version())
		}
		if raw, _, _, _ := e.Get(t.Context(), "items", "x"); string(raw) != string(item("x", "one")) {
			t.Errorf("row after the retry: %s", raw)
		}
		// A rejected push records nothing; gaps are fine; older seqs are duplicates.
		if _, err := e.Mutate(ctx, "putItem", item("y", ""), backend.Once("c1", 2)); backend.KindOf(err) != backend.ErrInvalidInput {
			t.Fatalf("invalid push: %v", err)
		}
		if st, _ := e.ClientState(t.Context(), "c1"); st.Seq != 1 {
			t.Fatalf("a rejected push moved the client's seq: %+v", st)
		}
		if _, err := e.Mutate(ctx, "putPair", json.RawMessage(`{"a":"p","b":"q","fail":true}`), backend.Once("c1", 3)); backend.KindOf(err) != backend.ErrHandler {
			t.Fatalf("failing push: %v", err)
		}
		p4, err := e.Mutate(ctx, "putItem", item("z", "four"), backend.Once("c1", 4))
		if err != nil || p4.Duplicate {
			t.Fatalf("push after a gap: %+v %v", p4, err)
		}
		if p, _ := e.Mutate(ctx, "putItem", item("w", "late"), backend.Once("c1", 3)); !p.Duplicate {
			t.Error("a seq below the client's last was applied")
		}
		if _, ok, _, _ := e.Get(t.Context(), "items", "w"); ok {
			t.Error("the late push wrote its row")
		}
		// Another client has its own sequence.
		if p, err := e.Mutate(ctx, "putItem", item("v", "c2"), backend.Once("c2", 1)); err != nil || p.Duplicate {
			t.Errorf("client c2's first push: %+v %v", p, err)
		}

		// Sixteen racing retries of one push: exactly one applies.
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			applied int
		)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := e.Mutate(ctx, "putItem", item("r", "race"), backend.Once("c3", 7))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if !p.Duplicate {
					applied++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if applied != 1 {
			t.Errorf("%d of 16 racing retries applied, want 1", applied)
		}
		if _, err := e.Mutate(ctx, "putItem", item("n", "n"), backend.Once("", 1)); err == nil {
			t.Error("a push without a client id was accepted")
		}
	})
}

// TestChangesSinceIsClientFacing: changes of a client table are readable
// from a version; the server-only table reads like a missing one.
func TestChangesSinceIsClientFacing(t *testing.T) {
	e := open(t, (&testApp{}).config(), filepath.Join(t.TempDir(), "a.db"))
	ctx := context.Background()
	v0 := e.Version()
	for _, id := range []string{"a", "b"} {
		if _, err := e.Mutate(ctx, "putItem", json.RawMessage(`{"id":"`+id+`","name":"n"}`)); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := e.ChangesSince(t.Context(), backend.Filter{Table: "items", Key: "b"}, v0, 0)
	if err != nil || len(evs) != 1 || evs[0].Changes[0].Key != "b" {
		t.Fatalf("changes of b since %d: %+v %v", v0, evs, err)
	}
	_, err = e.ChangesSince(t.Context(), backend.Filter{Table: "secrets"}, 0, 0)
	if backend.KindOf(err) != backend.ErrUnknown {
		t.Errorf("server-only table: %v", err)
	}
}

// TestReplicaRunsMutatorsAsClient: a replica engine runs the same mutator
// code with IsServer() false and EnqueueAction recording nothing.
func TestReplicaRunsMutatorsAsClient(t *testing.T) {
	e := open(t, (&testApp{}).config(), filepath.Join(t.TempDir(), "r.db"), func(o *backend.Options) { o.Replica = true })
	ctx := context.Background()
	if _, err := e.Mutate(ctx, "setSecret", json.RawMessage(`{"key":"k"}`)); err == nil || !errors.Is(err, backend.ErrHandler) {
		t.Errorf("setSecret refuses off the server; on a replica it returned %v", err)
	}
	if m, err := e.Mutate(ctx, "enqueue", json.RawMessage(`{"id":"i","text":"t"}`)); err != nil || len(m.Runs) != 0 {
		t.Fatalf("enqueue on a replica: runs %v, %v", m.Runs, err)
	}
	if _, ok, _, _ := e.Get(t.Context(), "items", "i"); !ok {
		t.Error("the replica's mutator did not write its row")
	}
	if _, ok, _ := e.Run(t.Context(), "0000000000000002-1"); ok {
		t.Error("a replica recorded an action run")
	}
}

// TestClientRecordsArePruned: the record of a client that stopped pushing
// is dropped after Options.ClientRetention, so .clients does not grow with
// every replica ever made; active clients keep theirs.
func TestClientRecordsArePruned(t *testing.T) {
	e := open(t, (&testApp{}).config(), filepath.Join(t.TempDir(), "p.db"), func(o *backend.Options) { o.ClientRetention = time.Second })
	ctx := context.Background()
	put := func(client string, seq uint64) {
		b, _ := json.Marshal(Item{ID: client, Name: "n"})
		if _, err := e.Mutate(ctx, "putItem", b, backend.Once(client, seq)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		put(fmt.Sprint("gone", i), 1)
	}
	time.Sleep(2100 * time.Millisecond) // older than the retention, in whole seconds
	for seq := range uint64(256) {
		put("active", seq+1)
	}
	for i := range 5 {
		if st, _ := e.ClientState(t.Context(), fmt.Sprint("gone", i)); st.Seq != 0 {
			t.Errorf("client gone%d's record survived its retention: %+v", i, st)
		}
	}
	if st, _ := e.ClientState(t.Context(), "active"); st.Seq != 256 {
		t.Errorf("the active client's record: %+v", st)
	}
}
