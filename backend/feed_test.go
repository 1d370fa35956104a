package backend_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
)

// TestFeedDeliversAndCloses: a feed delivers a client table's commits in
// order with their values, and reports ErrClosed (the engine's) once it or
// the engine is closed.
func TestFeedDeliversAndCloses(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		app := &testApp{}
		e := open(t, app.config(), filepath.Join(t.TempDir(), "f.db"), drv)
		feed, err := e.Subscribe(t.Context(), backend.Filter{Table: "items", Key: "a"}, e.Version())
		if err != nil {
			t.Fatal(err)
		}
		other, err := e.Subscribe(t.Context(), backend.Filter{Table: "items"}, e.Version())
		if err != nil {
			t.Fatal(err)
		}
		m, err := e.Mutate(t.Context(), "putItem", mustJSON(Item{ID: "a", Name: "one"}))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := feed.Next(t.Context())
		if err != nil || ev.Version != m.Version || len(ev.Changes) != 1 || ev.Changes[0].Op != backend.OpPut || !strings.Contains(string(ev.Changes[0].Value), `"one"`) {
			t.Fatalf("Next = %+v, %v; want version %d putting a", ev, err, m.Version)
		}
		feed.Close()
		if _, err := feed.Next(t.Context()); !errors.Is(err, backend.ErrClosed) {
			t.Errorf("Next after Close: %v, want ErrClosed", err)
		}
		e.Close()
		for {
			if _, err = other.Next(t.Context()); err != nil {
				break
			}
		}
		if !errors.Is(err, backend.ErrClosed) {
			t.Errorf("Next after the engine closed: %v, want ErrClosed", err)
		}
		if _, err := e.Subscribe(t.Context(), backend.Filter{Table: "items"}, 0); !errors.Is(err, backend.ErrClosed) {
			t.Errorf("Subscribe on a closed engine: %v, want ErrClosed", err)
		}
	})
}

// TestWatchRunNamesRunsWithoutTheirRecords: a run feed, for one run or
// every run, says which runs changed but carries no record, which may hold
// a sensitive action's input; Run reads it, redacted.
func TestWatchRunNamesRunsWithoutTheirRecords(t *testing.T) {
	e, _, _ := openJobApp(t, filepath.Join(t.TempDir(), "h.db"))
	all, err := e.WatchRun(t.Context(), "", e.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	m, err := e.Mutate(t.Context(), "startSecret", mustJSON(JobIn{ID: "s", Secret: "sk-live-999"}))
	if err != nil || len(m.Runs) != 1 {
		t.Fatalf("Mutate = %+v, %v", m, err)
	}
	one, err := e.WatchRun(t.Context(), m.Runs[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	for name, feed := range map[string]*backend.Feed{"every run": all, "one run": one} {
		ev, err := feed.Next(t.Context())
		if err != nil || len(ev.Changes) == 0 {
			t.Fatalf("%s: Next = %+v, %v", name, ev, err)
		}
		for _, c := range ev.Changes {
			if c.Key != m.Runs[0] || c.Value != nil {
				t.Errorf("%s: change %s %q, want run %s without its record", name, c.Key, c.Value, m.Runs[0])
			}
		}
	}
	run := waitRun(t, e, m.Runs[0])
	if !run.Redacted {
		t.Errorf("run = %+v, want it redacted", run)
	}
}

// TestChangesSinceSaysResync: once the log is trimmed past a version,
// ChangesSince says so with ErrResync, the engine's name for it.
func TestChangesSinceSaysResync(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		app := &testApp{}
		e := open(t, app.config(), filepath.Join(t.TempDir(), "r.db"), func(o *backend.Options) { o.LogRetention = 2 }, drv)
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			if _, err := e.Mutate(t.Context(), "putItem", mustJSON(Item{ID: id, Name: id})); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.ChangesSince(t.Context(), backend.Filter{Table: "items"}, 0, 10); !errors.Is(err, backend.ErrResync) {
			t.Errorf("ChangesSince below the log's floor: %v, want ErrResync", err)
		}
		evs, err := e.ChangesSince(t.Context(), backend.Filter{Table: "items"}, e.Version()-1, 10)
		if err != nil || len(evs) != 1 || evs[0].Changes[0].Key != "e" {
			t.Errorf("ChangesSince of the last version: %+v, %v", evs, err)
		}
	})
}

// TestReadsHonourTheirContext: a read whose caller has gone reads nothing.
func TestReadsHonourTheirContext(t *testing.T) {
	e, _ := newEngine(t)
	done, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, _, getErr := e.Get(done, "items", "a")
	_, _, _, scanErr := e.Scan(done, "items", backend.ScanOptions{})
	_, _, runErr := e.Run(done, "r")
	_, stateErr := e.ClientState(done, "c")
	_, changesErr := e.ChangesSince(done, backend.Filter{Table: "items"}, 0, 1)
	_, subErr := e.Subscribe(done, backend.Filter{Table: "items"}, 0)
	_, runFeedErr := e.WatchRun(done, "", 0)
	for name, err := range map[string]error{"Get": getErr, "Scan": scanErr, "Run": runErr, "ClientState": stateErr,
		"ChangesSince": changesErr, "Subscribe": subErr, "WatchRun": runFeedErr} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
}

// TestFeedSeesAnotherEnginesCommits: two engines on one PostgreSQL schema
// (two replicas): a feed on one receives the other's commits, in order,
// and reads there see them.
func TestFeedSeesAnotherEnginesCommits(t *testing.T) {
	drv := drivertest.Postgres(t)
	app := &testApp{}
	a := open(t, app.config(), filepath.Join(t.TempDir(), "a.db"), drv)
	b := open(t, app.config(), filepath.Join(t.TempDir(), "b.db"), drv)
	feed, err := b.Subscribe(t.Context(), backend.Filter{Table: "items"}, b.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	var want []uint64
	for _, id := range []string{"x", "y", "z"} {
		m, err := a.Mutate(t.Context(), "putItem", mustJSON(Item{ID: id, Name: id}))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, m.Version)
	}
	for i, v := range want {
		ev, err := feed.Next(t.Context())
		if err != nil || ev.Version != v || len(ev.Changes) != 1 || ev.Changes[0].Key != []string{"x", "y", "z"}[i] {
			t.Fatalf("feed on the other engine: %+v, %v; want version %d", ev, err, v)
		}
	}
	if _, ok, _, err := b.Get(t.Context(), "items", "z"); !ok || err != nil {
		t.Fatalf("Get on the other engine: found %v, %v", ok, err)
	}
}
