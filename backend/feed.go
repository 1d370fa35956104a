package backend

import (
	"context"
	"errors"

	"github.com/mcp-sync/mcp-sync/storage"
)

// The change feed's types are storage's own, named here so that the MCP
// layer and the Go client never import storage: a subscriber receives the
// very events the store publishes, with no copy per event (a streamed answer
// commits one per chunk).
type (
	// Op is what a change did to its row: OpPut or OpDelete.
	Op = storage.Op
	// Change is one row written or deleted (Value is nil for a delete).
	Change = storage.Change
	// Event is what one committed version changed, filtered for its
	// subscriber. With Resync set, Changes is empty and Version is where the
	// engine stood when the subscriber fell behind the change log: read a
	// snapshot, then skip events at or below the snapshot's version.
	Event = storage.Event
	// Filter selects changes: a table (required), and within it a key
	// prefix or one key.
	Filter = storage.Filter
)

// The operations a [Change] records.
const (
	OpPut    = storage.OpPut
	OpDelete = storage.OpDelete
)

// Feed delivers the committed changes a subscriber asked for, in commit
// order, each version at most once. Get one with [Engine.Subscribe] or
// [Engine.WatchRun]; Close it when done. A Feed never slows writers: one
// that falls behind reads what it missed from the change log, and gets an
// Event with Resync set when the log no longer reaches back that far. Next
// must not be called from two goroutines at once.
type Feed struct {
	sub      *storage.Subscription
	keysOnly bool // run feeds: a run's record is not the subscriber's to see
	// prefix is cut from keys: a private table's owner prefix.
	prefix string
	// runsOf, when set, keeps only the runs of that subject (see WatchRun).
	runsOf  string
	filters bool
	eng     *Engine
}

// Next returns the next event, waiting until one commits or ctx is done. It
// returns an error wrapping ErrClosed once the feed or the engine is closed.
// The event is shared with other subscribers: do not modify it.
func (f *Feed) Next(ctx context.Context) (Event, error) {
	ev, err := f.sub.Next(ctx)
	for ; err == nil && f.filters; ev, err = f.sub.Next(ctx) {
		if ev, ok := f.eng.visibleRuns(f.runsOf, ev); ok {
			return keysOnly(ev), nil
		}
	}
	if err != nil {
		if errors.Is(err, storage.ErrClosed) {
			return Event{}, withKind(ErrClosed, "change feed", ErrClosed)
		}
		return Event{}, err
	}
	if f.prefix != "" {
		return unscopeEvent(f.prefix, ev), nil
	}
	if f.keysOnly {
		return keysOnly(ev), nil
	}
	return ev, nil
}

// keysOnly returns ev with its changes' values left out.
func keysOnly(ev Event) Event {
	if len(ev.Changes) > 0 {
		cs := make([]Change, len(ev.Changes))
		for i, c := range ev.Changes {
			cs[i] = Change{Table: c.Table, Key: c.Key, Op: c.Op}
		}
		ev.Changes = cs
	}
	return ev
}

// Close ends the feed; a Next waiting on it returns ErrClosed.
func (f *Feed) Close() { f.sub.Close() }

// Subscribe watches a client-visible table (f.Table is required), a key
// prefix in it or one row, delivering every change committed after version
// from: pass the version of a snapshot you read to get exactly the changes
// after it, or [Engine.Version] for new ones only. A server-only table is
// refused exactly like an undeclared one (ErrUnknown). ctx is the caller's
// request, which Subscribe fails once done; the feed outlives it until
// Close. On a private table (schema.Private) f's key and prefix are ctx's
// owner's (see [Engine.Owner]) and the feed carries only that owner's
// changes, under the keys the owner knows.
func (e *Engine) Subscribe(ctx context.Context, f Filter, from uint64) (*Feed, error) {
	prefix, err := e.checkClientFilter(ctx, f)
	if err != nil {
		return nil, err
	}
	feed, err := e.feed(scopedFilter(prefix, f), from, false)
	if err == nil {
		feed.prefix = prefix
	}
	return feed, err
}

// WatchRun watches the record of the enqueued action run id (see
// [Engine.Run]), or of every run when id is "", from version from. Its
// events name the runs that changed (Change.Key is the run id) without
// their records, which may hold a sensitive action's input: read a run with
// [Engine.Run]. ctx is as for [Engine.Subscribe]; its caller, unless local
// or absent (server code), is shown only the runs [Engine.Run] shows it:
// its own and those no caller started, never another's, nor a run's
// deletion.
func (e *Engine) WatchRun(ctx context.Context, id string, from uint64) (*Feed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkKeyArg("runs", "run id", id); err != nil {
		return nil, withKind(ErrInvalidInput, "", err)
	}
	feed, err := e.feed(Filter{Table: RunsTable, Key: id}, from, true)
	if err == nil {
		if c, ok := IdentityFrom(ctx); ok && !c.Local {
			feed.runsOf, feed.filters, feed.eng = c.Subject, true, e
		}
	}
	return feed, err
}

func (e *Engine) feed(f Filter, from uint64, keysOnly bool) (*Feed, error) {
	sub, err := e.store.Subscribe(f, from)
	if err != nil {
		return nil, e.storageFailure("subscribe to "+f.Table, err)
	}
	return &Feed{sub: sub, keysOnly: keysOnly}, nil
}

// ChangesSince returns up to limit (0: 1000) committed versions after the
// given one that touched what f selects in a client-visible table, in
// order. It fails with an error wrapping ErrResync when the change log no
// longer reaches back that far: read a snapshot instead. ctx is the
// caller's request: a done ctx reads nothing. Private tables are as for
// [Engine.Subscribe].
func (e *Engine) ChangesSince(ctx context.Context, f Filter, after uint64, limit int) ([]Event, error) {
	prefix, err := e.checkClientFilter(ctx, f)
	if err != nil {
		return nil, err
	}
	evs, err := e.store.ChangesSince(after, scopedFilter(prefix, f), limit)
	if errors.Is(err, storage.ErrResync) {
		return nil, err
	}
	return unscope(prefix, evs), e.storageFailure("table "+f.Table+": changes", err)
}

// checkClientFilter refuses a done ctx and a filter a client may not use:
// a server-only or undeclared table, a bad key or prefix, a private table
// with no owner. It returns the stored-key prefix of ctx's rows of a
// private table ("" for others).
func (e *Engine) checkClientFilter(ctx context.Context, f Filter) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	info, err := e.clientTable(f.Table)
	if err != nil {
		return "", err
	}
	if err := checkFilter(f); err != nil {
		return "", err
	}
	return e.rowPrefix(ctx, info)
}
