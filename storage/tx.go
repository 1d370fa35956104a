package storage

import (
	"fmt"
	"slices"
)

// ReadTx is a read transaction: a consistent snapshot at Version. Values it
// returns are copies, safe to keep. A value that fails its checksum is
// returned as a [*CorruptError] naming its table and key, never served.
// It must not be used after the function it was given to returns.
type ReadTx struct {
	s       *Store
	tx      DriverReadTx
	version uint64
}

// Version returns the version of the snapshot.
func (r *ReadTx) Version() uint64 { return r.version }

// Get returns the value stored under key, and whether there is one.
func (r *ReadTx) Get(table, key string) ([]byte, bool, error) {
	if err := r.s.checkTable(table); err != nil {
		return nil, false, err
	}
	return r.tx.Get(table, key)
}

// Scan returns a page of rows and the cursor for the next page ("" when this
// page is the last). A damaged row in the page fails the whole page with a
// [*CorruptError] naming it.
func (r *ReadTx) Scan(table string, o ScanOptions) ([]KV, string, error) {
	if err := r.s.checkTable(table); err != nil {
		return nil, "", err
	}
	if o.Limit <= 0 {
		o.Limit = DefaultScanLimit
	}
	o.Limit = min(o.Limit, MaxScanLimit)
	return r.tx.Scan(table, o)
}

// WriteTx is a write transaction: a ReadTx that also writes. It sees its own
// writes. Its Version is the version it commits as.
type WriteTx struct {
	ReadTx
	w       DriverWriteTx
	changes []Change
	undo    []undoEntry
	touched map[tableKey]struct{}
	unsafe  error // a step of Try could not be undone: the commit must fail
}

type tableKey struct{ table, key string }

// undoEntry restores a key's value from before the function touched it.
type undoEntry struct {
	tk    tableKey
	prev  []byte
	found bool
}

func (w *WriteTx) checkKey(table, key string) error {
	if err := w.s.checkTable(table); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("storage: table %q: empty key: every row needs a non-empty key", table)
	}
	if len(key) > MaxKeySize {
		return fmt.Errorf("storage: table %q: key of %d bytes exceeds the limit of %d", table, len(key), MaxKeySize)
	}
	return nil
}

// remember records key's current value the first time this function touches
// it.
func (w *WriteTx) remember(table, key string) error {
	tk := tableKey{table, key}
	if _, ok := w.touched[tk]; ok {
		return nil
	}
	prev, found, err := w.w.Raw(table, key)
	if err != nil {
		return err
	}
	if w.touched == nil {
		w.touched = make(map[tableKey]struct{})
	}
	w.touched[tk] = struct{}{}
	w.undo = append(w.undo, undoEntry{tk: tk, prev: prev, found: found})
	return nil
}

// Put stores value under key, replacing any value there.
func (w *WriteTx) Put(table, key string, value []byte) error {
	if err := w.checkKey(table, key); err != nil {
		return err
	}
	if err := w.remember(table, key); err != nil {
		return err
	}
	stored, err := w.w.Put(table, key, value)
	if err != nil {
		return err
	}
	w.changes = append(w.changes, Change{Table: table, Key: key, Op: OpPut, Value: stored})
	return nil
}

// Delete removes key; deleting a missing key is not an error and records no
// change.
func (w *WriteTx) Delete(table, key string) error {
	if err := w.checkKey(table, key); err != nil {
		return err
	}
	if err := w.remember(table, key); err != nil {
		return err
	}
	found, err := w.w.Delete(table, key)
	if err != nil || !found {
		return err
	}
	w.changes = append(w.changes, Change{Table: table, Key: key, Op: OpDelete})
	return nil
}

// Try runs fn as one step of w, sharing its transaction and version: if fn
// fails (or panics), its writes are undone and w goes on without them; if it
// succeeds, they are w's. It returns fn's error. Several mutations can so
// commit together, each all or nothing (a replica's rebase). A failed step
// whose writes cannot be undone fails the whole commit.
func (w *WriteTx) Try(fn func(*WriteTx) error) error {
	step := &WriteTx{ReadTx: w.ReadTx, w: w.w}
	err := runFn(fn, step)
	if w.unsafe == nil {
		w.unsafe = step.unsafe // from a Try inside fn
	}
	if err != nil {
		if rbErr := step.rollback(); rbErr != nil && w.unsafe == nil {
			w.unsafe = rbErr
		}
		return err
	}
	w.changes = append(w.changes, step.changes...)
	for _, u := range step.undo {
		if _, ok := w.touched[u.tk]; ok {
			continue // w's own entry holds the older value
		}
		if w.touched == nil {
			w.touched = make(map[tableKey]struct{})
		}
		w.touched[u.tk] = struct{}{}
		w.undo = append(w.undo, u)
	}
	return nil
}

// Changes returns the changes w has made so far, in order. The slice is w's
// own: read it, do not change it.
func (w *WriteTx) Changes() []Change { return slices.Clip(w.changes) }

// rollback undoes every write of this function, in the shared transaction.
// Its error wraps ErrUndoFailed.
func (w *WriteTx) rollback() error {
	for i := len(w.undo) - 1; i >= 0; i-- {
		u := w.undo[i]
		if err := w.w.Restore(u.tk.table, u.tk.key, u.prev, u.found); err != nil {
			return fmt.Errorf("%w: table %q, key %q: %w", ErrUndoFailed, u.tk.table, ShortKey(u.tk.key), err)
		}
	}
	return nil
}
