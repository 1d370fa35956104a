package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/storagetest"
)

// TestStalledListenerDoesNotHoldCommits: when the listener's connection
// goes silent in the middle of a read of the log (a path dropped without a
// reset), this process's commits are still committed and published at
// once, with the other process's commit before them, not after the read's
// 30 s timeout. The listener used to read the log holding the lock every
// commit needs to publish.
func TestStalledListenerDoesNotHoldCommits(t *testing.T) {
	s, other, p := openWithProxiedListener(t)
	sub, err := s.Subscribe(storage.Filter{Table: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	next := func(what string) storage.Event {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ev, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return ev
	}
	storagetest.Put(t, other, "a", "first", "1")
	if ev := next("the other process's first commit, through the listener"); ev.Version != 1 || ev.Resync {
		t.Fatalf("first event %+v, want version 1", ev)
	}

	p.Stall()
	storagetest.Put(t, other, "a", "second", "1") // its notification is lost
	// A read that sees version 2 wakes the listener, whose read of the log
	// then waits on the silent connection.
	if err := s.View(func(*storage.ReadTx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	v := storagetest.Put(t, s, "a", "mine", "1")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a commit took %v while the listener's read was stalled: it waited for that read's timeout", took)
	}
	if v != 3 {
		t.Fatalf("this process's commit is version %d, want 3", v)
	}
	for want := uint64(2); want <= 3; want++ {
		if ev := next("the commits after the stall"); ev.Version != want || ev.Resync || len(ev.Changes) != 1 {
			t.Fatalf("event %+v, want version %d with its change", ev, want)
		}
	}
}

// openWithProxiedListener opens a store on a new schema whose listener
// alone goes through a proxy (the pool connects directly), so that a test
// can silence it, and another store on the same schema: another process.
func openWithProxiedListener(t *testing.T) (s, other *storage.Store, p *pgtest.Proxy) {
	t.Helper()
	dsn := pgtest.DSN(t)
	p = pgtest.NewProxy(t, dsn)
	schema := pgtest.Schema(t, dsn, t.Name())
	d, err := Open(context.Background(), dsn, Options{Tables: tables, Schema: schema, Poll: time.Hour, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseDSN(p.DSN)
	if err != nil {
		t.Fatal(err)
	}
	d.listen = cfg.ConnConfig.Copy()
	s = storage.New(d, storage.Options{}) // starts the listener
	t.Cleanup(func() { _ = s.Close() })
	other, _ = openStore(t, dsn, schema, Options{Tables: tables}, storage.Options{})
	return s, other, p
}

// TestPublishSkipsWhatWasPublished: the listener and this process's
// commits read the log without the publishing lock, so either may find
// part of what it read already published (a read of the log can end inside
// a batch). Each version reaches subscribers once, in order, and a hole in
// what was read is published as a gap, never skipped silently.
func TestPublishSkipsWhatWasPublished(t *testing.T) {
	var got []storage.Event
	d := &Driver{publish: func(_ uint64, evs []storage.Event) { got = append(got, evs...) }}
	change := func(v uint64) []storage.Change {
		return []storage.Change{{Table: "a", Key: "k", Op: storage.OpPut, Value: []byte{byte('0' + v)}}}
	}
	rec := func(v uint64) logRec {
		data := encodeChanges(change(v))
		return logRec{version: v, data: data, sum: sumRecord(v, data)}
	}
	ev := func(v uint64) storage.Event { return storage.Event{Version: v, Changes: change(v)} }
	versions := func() (vs []uint64) {
		for _, e := range got {
			if e.Resync {
				vs = append(vs, 1000+e.Version) // a gap, told apart
				continue
			}
			vs = append(vs, e.Version)
		}
		got = nil
		return vs
	}
	check := func(what string, want ...uint64) {
		t.Helper()
		if vs := versions(); !slices.Equal(vs, want) {
			t.Errorf("%s: published %v, want %v", what, vs, want)
		}
	}

	d.published.Store(2)
	d.publishRecsLocked([]logRec{rec(1), rec(2), rec(3), rec(4)}) // read after 0; 1 and 2 published meanwhile
	check("a read overlapping what was published", 3, 4)
	d.publishRecsLocked([]logRec{rec(3), rec(4)})
	check("a read of nothing new")
	// This process's batch (4, 8], whose start the listener published.
	d.publishRecsLocked([]logRec{rec(5), rec(6)})
	check("the listener's read ending inside the batch", 5, 6)
	d.publishOwn(nil, 4, 8, []storage.Event{ev(5), ev(6), ev(7), ev(8)})
	check("the batch's own publication", 7, 8)
	d.publishOwn(nil, 8, 9, []storage.Event{ev(9)})
	check("the next batch", 9)
	d.publishRecsLocked([]logRec{rec(11), rec(12)}) // 10 trimmed away
	check("a hole in what was read", 1012)
	if d.Version() != 12 {
		t.Errorf("version %d after the gap, want 12", d.Version())
	}
}
