//go:build linux || darwin

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/postgres"
)

// todoEvent is one committed version's changes to the todos table, as the
// change log holds it or as a subscriber received it.
type todoEvent struct {
	version uint64
	changes []client.Change[todo.Todo]
}

// auditLog follows the replicas' shared change log straight from
// PostgreSQL (not through any replica), polling: the ground truth the
// subscribers are held to, and the record of every run's claims and
// outcomes.
type auditLog struct {
	st     *storage.Store
	mu     sync.Mutex
	todos  []todoEvent         // every version that changed todos, in order
	queue  map[string]string   // run id → holder, for runs in the work list
	claims map[string][]string // run id → each holder that claimed it, in order
	wins   map[string]int      // run id → how many times it was recorded succeeded
	final  map[string]backend.Run
	after  map[string]uint64 // table → the last version read
	err    error
}

// followLog opens the test's schema as a bare store and follows its log
// until the test ends.
func followLog(t *testing.T, dsn, sch string) *auditLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := postgres.OpenStore(ctx, dsn, postgres.Options{Tables: []string{todo.Todos.Name(), ".queue", ".runs"},
		SchemaVersion: todo.Schema.Version(), Schema: sch})
	if err != nil {
		t.Fatalf("opening the replicas' schema to audit it: %v", err)
	}
	a := &auditLog{st: st, queue: map[string]string{}, claims: map[string][]string{}, wins: map[string]int{},
		final: map[string]backend.Run{}, after: map[string]uint64{}}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			if err := a.read(); err != nil {
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done; st.Close() })
	return a
}

// read takes in what the log holds past each table's last version read.
func (a *auditLog) read() error {
	for _, table := range []string{todo.Todos.Name(), ".queue", ".runs"} {
		for {
			evs, err := a.st.ChangesSince(a.after[table], storage.Filter{Table: table}, 1000)
			if err != nil {
				return fmt.Errorf("reading the change log of %s after version %d: %w", table, a.after[table], err)
			}
			a.mu.Lock()
			for _, ev := range evs {
				if err := a.takeLocked(table, ev); err != nil {
					a.mu.Unlock()
					return err
				}
				a.after[table] = ev.Version
			}
			a.mu.Unlock()
			if len(evs) < 1000 {
				break
			}
		}
	}
	return nil
}

func (a *auditLog) takeLocked(table string, ev storage.Event) error {
	te := todoEvent{version: ev.Version}
	for _, c := range ev.Changes {
		switch table {
		case ".queue":
			if c.Op != storage.OpPut {
				delete(a.queue, c.Key)
				continue
			}
			var ent struct{ Owner string }
			_ = json.Unmarshal(c.Value, &ent)
			a.queue[c.Key] = ent.Owner
			if cl := a.claims[c.Key]; ent.Owner != "" && (len(cl) == 0 || cl[len(cl)-1] != ent.Owner) {
				a.claims[c.Key] = append(cl, ent.Owner)
			}
		case ".runs":
			if c.Op != storage.OpPut {
				continue
			}
			var r backend.Run
			if err := json.Unmarshal(c.Value, &r); err != nil {
				return fmt.Errorf("run %s at version %d: %w", c.Key, ev.Version, err)
			}
			if r.Status == backend.RunSucceeded {
				a.wins[c.Key]++
			}
			a.final[c.Key] = r
		default:
			ch := client.Change[todo.Todo]{Key: c.Key, Deleted: c.Op != storage.OpPut}
			if !ch.Deleted {
				if err := json.Unmarshal(c.Value, &ch.Value); err != nil {
					return fmt.Errorf("todo %s at version %d: %w", c.Key, ev.Version, err)
				}
			}
			te.changes = append(te.changes, ch)
		}
	}
	if len(te.changes) > 0 {
		a.todos = append(a.todos, te)
	}
	return nil
}

// state returns a consistent copy of what the audit holds.
func (a *auditLog) state() (todos []todoEvent, queue map[string]string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := make(map[string]string, len(a.queue))
	for k, v := range a.queue {
		q[k] = v
	}
	return append([]todoEvent(nil), a.todos...), q, a.err
}

// succeeded counts the runs recorded succeeded.
func (a *auditLog) succeeded() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.final {
		if r.Status == backend.RunSucceeded {
			n++
		}
	}
	return n
}

// subscriber is a Go client's Watch of the whole todos table through one
// replica, recording every event it delivers.
type subscriber struct {
	mu     sync.Mutex
	start  uint64 // the version of the opening snapshot
	events []todoEvent
	err    error
}

func subscribe(t *testing.T, c *client.Conn) *subscriber {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := client.Watch(ctx, c, todo.Todos, client.Selector{}, 0)
	if err != nil {
		cancel()
		t.Fatalf("watching todos: %v", err)
	}
	s := &subscriber{}
	first, err := w.Next(ctx)
	if err != nil || !first.Resync || len(first.Changes) != 0 {
		cancel()
		t.Fatalf("a watch of the empty todos table began with %+v, %v; want an empty snapshot", first, err)
	}
	s.start = first.Version
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := w.Next(ctx)
			s.mu.Lock()
			switch {
			case err != nil && ctx.Err() == nil:
				s.err = err
			case err == nil && ev.Resync:
				s.err = fmt.Errorf("a resync at version %d after %d: the subscriber was cut off from the log", ev.Version, s.last())
			case err == nil:
				s.events = append(s.events, todoEvent{version: ev.Version, changes: ev.Changes})
			}
			stop := err != nil || ev.Resync
			s.mu.Unlock()
			if stop {
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); w.Close(); <-done })
	return s
}

// last is the version of the newest event received; mu is held.
func (s *subscriber) last() uint64 {
	if len(s.events) == 0 {
		return s.start
	}
	return s.events[len(s.events)-1].version
}

// reached reports whether the subscriber has received version v (or
// stopped on an error, which check reports).
func (s *subscriber) reached(v uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil || s.last() >= v
}

// check holds what the subscriber received to the log: every todos change
// after its snapshot, each version once, in version order, none missing,
// through the version it last received (all of want when complete).
func (s *subscriber) check(want []todoEvent, complete bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	i := 0
	for i < len(want) && want[i].version <= s.start {
		i++
	}
	want = want[i:]
	for j, got := range s.events {
		switch {
		case j >= len(want):
			return fmt.Errorf("received version %d, beyond the log's %d todos changes after version %d", got.version, len(want), s.start)
		case got.version != want[j].version:
			return fmt.Errorf("event %d is version %d; the log's next todos change is version %d (a change missed, repeated or out of order)",
				j, got.version, want[j].version)
		case !reflect.DeepEqual(got.changes, want[j].changes):
			return fmt.Errorf("version %d: received %+v; the log holds %+v", got.version, got.changes, want[j].changes)
		}
	}
	if complete && len(s.events) < len(want) {
		return fmt.Errorf("received %d of the %d todos changes after version %d; first missing: version %d",
			len(s.events), len(want), s.start, want[len(s.events)].version)
	}
	return nil
}

// textsOf is the distinct texts key had, in the order received.
func (s *subscriber) textsOf(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.events {
		for _, c := range ev.changes {
			if c.Key == key && !c.Deleted && (len(out) == 0 || out[len(out)-1] != c.Value.Text) {
				out = append(out, c.Value.Text)
			}
		}
	}
	return out
}
