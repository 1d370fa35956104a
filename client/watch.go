package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

// Selector narrows a watch to a key prefix or one key of a table; the zero
// value selects the whole table.
type Selector struct {
	Prefix string
	Key    string
}

// Change is one row written (Value) or deleted.
type Change[T any] struct {
	Key     string
	Value   T
	Deleted bool
}

// Event is one committed version's changes to what a watcher selects. An
// event with Resync set instead carries everything the watcher selects as
// of Version (as puts): replace what you held. The first event of a watch
// started from version 0 is such a snapshot; so is the event after the
// server's change log stopped reaching back to the last version seen.
type Event[T any] struct {
	Version uint64
	Changes []Change[T]
	Resync  bool
}

// PollInterval is how often a watcher asks for changes when no update
// notification arrived: a safety net for notifications lost with a
// connection.
const PollInterval = 2 * time.Second

// Watcher streams committed changes; see [Watch].
type Watcher[T any] struct {
	c       *Conn
	table   string
	sel     Selector
	version uint64 // the last version returned
	cursor  uint64 // how far fetch has read: pending events run up to it
	fresh   bool   // started from 0: begin with a snapshot
	pending []Event[T]
	rows    held          // rows' JSON as received, which notices' patches edit
	box     *inbox        // update notifications, with the changes they carry
	current bool          // up to date as far as notifications tell: ask only on the next one
	kick    chan struct{} // ask for changes now (a Replica after a push)
	stop    func()
	gen     int          // the connection generation of the last failed call
	ticks   bool         // also return empty events when the position moves (Replica)
	poll    atomic.Int64 // PollInterval in ns when 0; tests lengthen it to tell a poll from a notification
}

// Watch streams the committed changes of table t that sel selects, after
// version from (0: start with a snapshot), in commit order and without
// gaps. After a connection failure it reconnects and resumes from the last
// version it returned.
func Watch[T any](ctx context.Context, c *Conn, t schema.TableDef[T], sel Selector, from uint64) (*Watcher[T], error) {
	uri := wire.TableURI(t.Name())
	if sel.Key != "" {
		uri = wire.RowURI(t.Name(), sel.Key)
	}
	box, stop, err := c.watch(ctx, uri, true)
	if err != nil {
		return nil, err
	}
	return newWatcher[T](c, t.Name(), sel, from, box, stop), nil
}

func newWatcher[T any](c *Conn, table string, sel Selector, from uint64, box *inbox, stop func()) *Watcher[T] {
	return &Watcher[T]{c: c, table: table, sel: sel, version: from, cursor: from, fresh: from == 0, box: box, stop: stop, kick: make(chan struct{}, 1)}
}

// Version is the last version the watcher has returned (or started from).
func (w *Watcher[T]) Version() uint64 { return w.version }

// Close stops the watch.
func (w *Watcher[T]) Close() { w.stop() }

// Next returns the next event, waiting for one until ctx ends.
func (w *Watcher[T]) Next(ctx context.Context) (Event[T], error) {
	backoff := 50 * time.Millisecond
	for {
		if len(w.pending) > 0 {
			ev := w.pending[0]
			w.pending = w.pending[1:]
			w.version = ev.Version
			if len(w.pending) == 0 {
				w.version = w.cursor
			}
			return ev, nil
		}
		if w.fresh {
			ev, err := w.snapshot(ctx)
			if err == nil {
				// Asked once more next time: a subscription may not have
				// been in place for changes just after the snapshot.
				w.fresh, w.current = false, false
				return ev, nil
			}
			if !w.retry(ctx, err, &backoff) {
				return Event[T]{}, err
			}
			continue
		}
		if !w.current {
			more, err := w.fetch(ctx)
			if err != nil {
				if !w.retry(ctx, err, &backoff) {
					return Event[T]{}, err
				}
				continue
			}
			backoff = 50 * time.Millisecond
			// Read to the end: from here on, update notifications say
			// when (and mostly what) to read next.
			w.current = !more && !w.fresh
			if len(w.pending) > 0 || more || w.fresh {
				continue
			}
		}
		if w.ticks && w.cursor > w.version { // nothing selected changed, but time moved on
			w.version = w.cursor
			return Event[T]{Version: w.version}, nil
		}
		select {
		case <-ctx.Done():
			return Event[T]{}, ctx.Err()
		case _, ok := <-w.box.wake:
			if !ok {
				return Event[T]{}, fmt.Errorf("%w: the connection is closed", ErrTransport)
			}
			w.current = w.absorb(w.box.take())
		case <-w.kick:
			w.current = false
		case <-time.After(w.pollInterval()):
			w.current = false
		}
	}
}

// pollInterval is how long Next waits for a notification before asking.
func (w *Watcher[T]) pollInterval() time.Duration {
	if d := w.poll.Load(); d > 0 {
		return time.Duration(d)
	}
	return PollInterval
}

// poke makes a waiting Next ask for changes now.
func (w *Watcher[T]) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// retry reconnects after a transport failure, waiting backoff (doubling to
// 2 s); it reports false when the error is not worth retrying.
func (w *Watcher[T]) retry(ctx context.Context, err error, backoff *time.Duration) bool {
	if !errors.Is(err, ErrTransport) || ctx.Err() != nil {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(*backoff):
	}
	*backoff = min(*backoff*2, 2*time.Second)
	_ = w.c.Reconnect(ctx, w.gen) // on failure, the next call fails and retries
	return true
}

// call is Conn.call that remembers the connection generation it failed on.
func (w *Watcher[T]) call(ctx context.Context, tool string, args any) (json.RawMessage, error) {
	out, gen, err := w.c.call(ctx, tool, args, nil)
	if err != nil {
		w.gen = gen
	}
	return out, err
}

// fetch asks for the changes after w.cursor and queues them. more says a
// page limit cut them short.
func (w *Watcher[T]) fetch(ctx context.Context) (more bool, err error) {
	raw, err := w.call(ctx, wire.ToolSyncChanges, wire.SyncChangesIn{Table: w.table, Prefix: w.sel.Prefix, Key: w.sel.Key, After: w.cursor, Limit: 500})
	if err != nil {
		return false, err
	}
	var out wire.SyncChangesOut
	if err := json.Unmarshal(raw, &out); err != nil {
		return false, fmt.Errorf("%s: decoding %s: %w", wire.ToolSyncChanges, raw, err)
	}
	if out.Resync {
		w.fresh = true
		return false, nil
	}
	evs, err := w.decode(out.Events)
	if err != nil {
		return false, err
	}
	w.pending = append(w.pending, evs...)
	if n := len(out.Events); n > 0 {
		w.cursor = out.Events[n-1].Version
	}
	if !out.More && out.Version > w.cursor {
		w.cursor = out.Version // nothing selected changed up to here
	}
	return out.More, nil
}

// decode turns wire events into the watcher's events, keeping the changes
// it selects (and the events left with any).
func (w *Watcher[T]) decode(ses []wire.SyncEvent) ([]Event[T], error) {
	var evs []Event[T]
	for _, se := range ses {
		ev := Event[T]{Version: se.Version}
		for _, sc := range se.Changes {
			// As storage filters: a key, if set, else a prefix.
			if w.sel.Key != "" && sc.Key != w.sel.Key || w.sel.Key == "" && !strings.HasPrefix(sc.Key, w.sel.Prefix) {
				continue
			}
			ch := Change[T]{Key: sc.Key}
			value := sc.Value
			switch sc.Op {
			case wire.OpDelete:
				ch.Deleted = true
				w.rows.forget(sc.Key)
			case wire.OpPut:
				w.rows.put(sc.Key, heldRow{version: se.Version, exact: true, value: sc.Value})
			case wire.OpPatch:
				var err error
				if value, err = w.rows.patched(se.Version, sc); err != nil {
					return nil, fmt.Errorf("table %s: %w", w.table, err)
				}
			default:
				return nil, fmt.Errorf("table %s row %s: a change of unknown op %q", w.table, sc.Key, sc.Op)
			}
			if !ch.Deleted {
				if err := json.Unmarshal(value, &ch.Value); err != nil {
					return nil, fmt.Errorf("table %s row %s: decoding %s: %w", w.table, sc.Key, value, err)
				}
			}
			ev.Changes = append(ev.Changes, ch)
		}
		if len(ev.Changes) > 0 {
			evs = append(evs, ev)
		}
	}
	return evs, nil
}

// absorb queues the changes update notifications carried, and reports
// whether they brought the watcher up to date without asking the server:
// each must continue where the watcher's cursor is (a gap, a notification
// without its changes or a decoding failure means asking, which covers
// them all, since they committed before it asks).
func (w *Watcher[T]) absorb(ns []*wire.ChangeNotice) bool {
	if w.fresh {
		return false
	}
	// No notices: a wake-up whose notices an earlier take already had.
	for _, n := range ns {
		if n == nil || n.After > w.cursor {
			return false
		}
		if n.Version <= w.cursor {
			continue // already read
		}
		i := 0
		for i < len(n.Events) && n.Events[i].Version <= w.cursor {
			i++
		}
		evs, err := w.decode(n.Events[i:])
		if err != nil {
			return false // asking reports it
		}
		w.pending = append(w.pending, evs...)
		w.cursor = n.Version
	}
	return true
}

// snapshot reads everything selected, as of a version the watch then goes
// on from. Pages may be read at later versions than the first; changes
// after the first page's version are fetched again, and re-applying a put
// or delete is harmless.
func (w *Watcher[T]) snapshot(ctx context.Context) (Event[T], error) {
	ev := Event[T]{Resync: true}
	if w.sel.Key != "" {
		raw, err := w.call(ctx, wire.ToolGetRow, wire.GetRowIn{Table: w.table, Key: w.sel.Key})
		if err != nil {
			return ev, err
		}
		var out wire.GetRowOut
		if err := json.Unmarshal(raw, &out); err != nil {
			return ev, fmt.Errorf("%s: decoding %s: %w", wire.ToolGetRow, raw, err)
		}
		ev.Version = out.Version
		w.rows = held{}
		if out.Found {
			w.rows.put(w.sel.Key, heldRow{version: out.Version, value: out.Value})
			ch := Change[T]{Key: w.sel.Key}
			if err := json.Unmarshal(out.Value, &ch.Value); err != nil {
				return ev, fmt.Errorf("table %s row %s: decoding %s: %w", w.table, w.sel.Key, out.Value, err)
			}
			ev.Changes = append(ev.Changes, ch)
		}
		w.version, w.cursor = ev.Version, ev.Version
		return ev, nil
	}
	after := ""
	for first := true; ; first = false {
		raw, err := w.call(ctx, wire.ToolListRows, wire.ListRowsIn{Table: w.table, Prefix: w.sel.Prefix, After: after, Limit: wire.MaxListLimit})
		if err != nil {
			return ev, err
		}
		var page wire.ListRowsOut
		if err := json.Unmarshal(raw, &page); err != nil {
			return ev, fmt.Errorf("%s: decoding %s: %w", wire.ToolListRows, raw, err)
		}
		if first {
			ev.Version = page.Version
			w.rows = held{}
		}
		for _, r := range page.Rows {
			w.rows.put(r.Key, heldRow{version: page.Version, value: r.Value})
			ch := Change[T]{Key: r.Key}
			if err := json.Unmarshal(r.Value, &ch.Value); err != nil {
				return ev, fmt.Errorf("table %s row %s: decoding %s: %w", w.table, r.Key, r.Value, err)
			}
			ev.Changes = append(ev.Changes, ch)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	w.version, w.cursor = ev.Version, ev.Version
	return ev, nil
}
