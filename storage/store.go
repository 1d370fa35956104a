package storage

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure [New]. Zero values take the defaults shown.
type Options struct {
	// SubscriberBuffer is how many events a subscription queues before it
	// falls back to reading the log itself (1024).
	SubscriberBuffer int
}

// Store is an open store: a [Driver] with the table checks, change
// recording, undo log and subscriptions every driver shares. It is safe for
// concurrent use.
type Store struct {
	d         Driver
	opts      Options
	tables    map[string]struct{}
	closeOnce sync.Once
	closeErr  error

	version atomic.Uint64 // the last version published to subscribers

	pubMu sync.Mutex // orders publishing with subscribers joining live mode
	subs  map[*Subscription]struct{}
}

// New returns a Store over d, a driver just opened (New sets its OnCommit).
// The Store owns d from then on: its Close closes d.
func New(d Driver, opts Options) *Store {
	if opts.SubscriberBuffer <= 0 {
		opts.SubscriberBuffer = 1024
	}
	s := &Store{d: d, opts: opts, tables: make(map[string]struct{}), subs: make(map[*Subscription]struct{})}
	for _, t := range d.Tables() {
		s.tables[t] = struct{}{}
	}
	s.version.Store(d.Version())
	d.OnCommit(s.publish)
	return s
}

// Path names where the data is kept (the bbolt driver: the file's path;
// the PostgreSQL driver: the database and schema).
// It is for the operator, not for clients.
func (s *Store) Path() string { return s.d.Path() }

// Version returns the last committed version (0 for a new store).
func (s *Store) Version() uint64 { return s.version.Load() }

// Close commits the writes already queued, closes the driver and ends every
// subscription with ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.d.Close()
		s.pubMu.Lock()
		for sub := range s.subs {
			sub.end(ErrClosed)
		}
		s.subs = nil
		s.pubMu.Unlock()
	})
	return s.closeErr
}

// View runs fn in a read transaction: a consistent snapshot at one version.
// A panic of fn's own passes through View unchanged.
func (s *Store) View(fn func(tx *ReadTx) error) error {
	return s.d.View(func(dtx DriverReadTx) error {
		return fn(&ReadTx{s: s, tx: dtx, version: dtx.Version()})
	})
}

// Update runs fn in a write transaction and returns the version it committed
// as. fn may share the underlying commit with other callers' functions, but
// its writes are all or nothing: when fn returns an error (or panics) none
// of them happen. fn must not keep the transaction after it returns. When
// ctx carries a cause ([WithCause]), the version's audit record is written
// with it, in the same commit (see [Store.Audit]); a cause longer than
// MaxCauseSize fails the call before fn runs.
func (s *Store) Update(ctx context.Context, fn func(tx *WriteTx) error) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cause := CauseFrom(ctx)
	if len(cause) > MaxCauseSize {
		return 0, fmt.Errorf("storage: the write's audit cause is %d bytes, over the limit of %d", len(cause), MaxCauseSize)
	}
	return s.d.Update(ctx, func(dtx DriverWriteTx) ([]Change, error) {
		if err := ctx.Err(); err != nil {
			return nil, err // cancelled while queued: nothing written
		}
		w := &WriteTx{ReadTx: ReadTx{s: s, tx: dtx, version: dtx.Version()}, w: dtx}
		err := runFn(fn, w)
		if w.unsafe != nil {
			return nil, w.unsafe // a step of Try left writes it could not undo
		}
		if err != nil {
			if rbErr := w.rollback(); rbErr != nil {
				return nil, rbErr
			}
			return nil, err
		}
		if cause != nil {
			dtx.Audit(encodeAudit(time.Now(), cause, w.changes))
		}
		return w.changes, nil
	})
}

// runFn runs fn, turning a panic into an error so one bad function cannot
// take down the writer committing it and every writer sharing its commit.
func runFn(fn func(*WriteTx) error, w *WriteTx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("storage: write function panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(w)
}

func (s *Store) checkFilter(f Filter) error {
	if f.Table == "" {
		return errors.New("storage: filter names no table")
	}
	return s.checkTable(f.Table)
}

func (s *Store) checkTable(table string) error {
	if _, ok := s.tables[table]; !ok {
		return fmt.Errorf("storage: table %q: %w", table, ErrNoTable)
	}
	return nil
}

// ChangesSince returns up to limit events (0 means 1000) with versions after
// the given one that f selects, in order. It fails with ErrResync when the
// log no longer reaches back to after, and when after is past the store's
// version (a cursor from elsewhere, or a file restored from an older copy),
// as a subscription from there resyncs.
func (s *Store) ChangesSince(after uint64, f Filter, limit int) ([]Event, error) {
	if err := s.checkFilter(f); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []Event
	err := s.d.View(func(tx DriverReadTx) error {
		if after > tx.Version() {
			return fmt.Errorf("storage: changes after version %d, past the store's %d: %w", after, tx.Version(), ErrResync)
		}
		var err error
		out, _, err = readLog(tx, after, tx.Version(), f, limit)
		return err
	})
	return out, err
}

// readLog reads the events in (after, upto] that f selects, at most limit
// of them, and returns the version it read through.
func readLog(tx DriverReadTx, after, upto uint64, f Filter, limit int) ([]Event, uint64, error) {
	var out []Event
	through := after
	full := false
	err := tx.ReadLog(after, upto, func(ver uint64, changes []Change) bool {
		through = ver
		if ev, ok := f.apply(Event{Version: ver, Changes: changes}); ok {
			out = append(out, ev)
			full = len(out) == limit
		}
		return !full
	})
	if err != nil {
		return nil, after, err
	}
	if full {
		return out, through, nil
	}
	return out, upto, nil
}
