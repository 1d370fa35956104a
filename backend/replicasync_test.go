package backend_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
)

// TestReplicasClientSync: a client whose pushes land on any of three
// replicas (a balancer without sticky sessions) has each (client, seq)
// applied exactly once, however its retries are spread and raced; and the
// changes it pulls from any replica are the same, gapless, in version order.
func TestReplicasClientSync(t *testing.T) {
	dsn := pgtest.DSN(t)
	sch := pgtest.Schema(t, dsn, t.Name())
	var reps []*backend.Engine
	for i := range 3 {
		reps = append(reps, openReplica(t, dsn, sch, fmt.Sprint("r", i)))
	}
	ctx := context.Background()
	const pushes = 30
	applied := make([]int, pushes+1)
	var mu sync.Mutex
	for seq := uint64(1); seq <= pushes; seq++ {
		// The same push sent to every replica at once: a retry after a
		// lost reply, raced.
		var wg sync.WaitGroup
		for _, e := range reps {
			wg.Go(func() {
				m, err := e.Mutate(ctx, "putNote", mustJSON(RNote{ID: fmt.Sprint("n", seq), Text: "x"}), backend.Once("client-1", seq))
				if err != nil {
					t.Errorf("push %d: %v", seq, err)
					return
				}
				if !m.Duplicate {
					mu.Lock()
					applied[seq]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	for seq := 1; seq <= pushes; seq++ {
		if applied[seq] != 1 {
			t.Fatalf("push %d applied %d times across the replicas, want once", seq, applied[seq])
		}
	}
	var want []backend.Event
	for i, e := range reps {
		st, err := e.ClientState(ctx, "client-1")
		if err != nil || st.Seq != pushes {
			t.Fatalf("client state on r%d = %+v, %v; want seq %d", i, st, err, pushes)
		}
		evs, err := e.ChangesSince(ctx, backend.Filter{Table: "notes"}, 0, 0)
		if err != nil || len(evs) != pushes {
			t.Fatalf("changes on r%d: %d events, %v; want %d", i, len(evs), err, pushes)
		}
		if i == 0 {
			want = evs
			continue
		}
		for j := range evs {
			if evs[j].Version != want[j].Version || evs[j].Changes[0].Key != want[j].Changes[0].Key {
				t.Fatalf("r%d's change %d = %+v, r0's %+v", i, j, evs[j], want[j])
			}
		}
	}
}
