package backend_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
)

// TestLocalCallersRunsAreNotASignedInCallers: a run a local caller (stdio,
// the static token) enqueued is not shown to a signed-in caller whose
// token's subject happens to be the local user's name, neither by Run nor
// on the run feed: the two are different callers.
func TestLocalCallersRunsAreNotASignedInCallers(t *testing.T) {
	e, _ := newEngine(t)
	local := backend.WithIdentity(t.Context(), backend.Identity{Subject: "alice", Local: true})
	signedIn := backend.WithIdentity(t.Context(), backend.Identity{Subject: "alice"})
	feed, err := e.WatchRun(signedIn, "", e.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	m, err := e.Mutate(local, "enqueue", mustJSON(EnqueueIn{ID: "1", Text: "local's"}))
	if err != nil || len(m.Runs) != 1 {
		t.Fatalf("enqueue: %+v, %v", m, err)
	}
	waitRun(t, e, m.Runs[0])
	if _, ok, err := e.Run(signedIn, m.Runs[0]); err != nil || ok {
		t.Errorf("the signed-in alice reads the local alice's run: %v, %v; want not found", ok, err)
	}
	if _, ok, err := e.Run(local, m.Runs[0]); err != nil || !ok {
		t.Errorf("the local alice's run: %v, %v; want found", ok, err)
	}
	// The signed-in alice's own run comes next: until it shows, the feed
	// must carry nothing of the local alice's.
	own, err := e.Mutate(signedIn, "enqueue", mustJSON(EnqueueIn{ID: "2", Text: "signed-in's"}))
	if err != nil || len(own.Runs) != 1 {
		t.Fatalf("enqueue: %+v, %v", own, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		ev, err := feed.Next(ctx)
		if err != nil {
			t.Fatalf("the signed-in alice's run feed never carried her own run: %v", err)
		}
		for _, c := range ev.Changes {
			if c.Key == m.Runs[0] {
				t.Fatalf("the signed-in alice's run feed carries the local alice's run: %+v", ev)
			}
			if c.Key == own.Runs[0] {
				return
			}
		}
	}
}
