package backend_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
)

// TestReplicasThroughAPostgresRestart: PostgreSQL (a server of the test's
// own) restarts while two replicas write to it. Calls during the outage
// fail as ErrUnavailable; the replicas reconnect on their own; a
// subscriber on each sees every write that succeeded, in version order,
// with no resync.
func TestReplicasThroughAPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a PostgreSQL server")
	}
	pg := pgtest.StartOwn(t)
	sch := "restart"
	reps := []*backend.Engine{openReplica(t, pg.DSN, sch, "a"), openReplica(t, pg.DSN, sch, "b")}
	var feeds []*backend.Feed
	for _, e := range reps {
		f, err := e.Subscribe(t.Context(), backend.Filter{Table: "notes"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		feeds = append(feeds, f)
	}
	var (
		mu          sync.Mutex
		ok          = map[string]uint64{} // key → version, of writes that succeeded
		unavailable atomic.Int64
		stop        atomic.Bool
		wg          sync.WaitGroup
	)
	for i, e := range reps {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				key := fmt.Sprintf("w%d-%d", i, n)
				m, err := e.Mutate(context.Background(), "putNote", mustJSON(RNote{ID: key}))
				switch {
				case err == nil:
					mu.Lock()
					ok[key] = m.Version
					mu.Unlock()
				case backend.KindOf(err) == backend.ErrUnavailable:
					unavailable.Add(1)
					time.Sleep(20 * time.Millisecond)
				default:
					t.Errorf("write %s during the restart: %v (kind %v), want success or ErrUnavailable", key, err, backend.KindOf(err))
					return
				}
			}
		})
	}
	waitWrites := func(n int) {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			got := len(ok)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				stop.Store(true)
				t.Fatalf("only %d of %d writes succeeded", got, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitWrites(100)
	pg.Stop()
	deadline := time.Now().Add(time.Minute)
	for unavailable.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	pg.Start()
	mu.Lock()
	before := len(ok)
	mu.Unlock()
	waitWrites(before + 100) // the replicas reconnected on their own
	stop.Store(true)
	wg.Wait()
	if unavailable.Load() == 0 {
		t.Fatal("no call failed while the server was down")
	}
	for i, f := range feeds {
		seen := map[string]bool{}
		var last uint64
		for len(seen) < len(ok) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			ev, err := f.Next(ctx)
			cancel()
			if err != nil {
				t.Fatalf("subscriber on replica %d: %v after %d of %d writes", i, err, len(seen), len(ok))
			}
			if ev.Resync || ev.Version <= last {
				t.Fatalf("subscriber on replica %d: %+v after version %d: want the next change, no resync", i, ev, last)
			}
			last = ev.Version
			for _, c := range ev.Changes {
				if v, done := ok[c.Key]; done {
					if v != ev.Version {
						t.Fatalf("subscriber on replica %d: %s at version %d, committed as %d", i, c.Key, ev.Version, v)
					}
					seen[c.Key] = true
				}
			}
		}
	}
	t.Logf("%d writes succeeded, %d failed as unavailable during the restart", len(ok), unavailable.Load())
}
