package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-sync/mcp-sync/storage"
)

// readTx is a storage.DriverReadTx over a connection in a transaction.
type readTx struct {
	d       *Driver
	conn    *pgx.Conn
	version uint64
	floor   uint64 // the log holds every version > floor
	top     uint64 // the last version whose log row this transaction sees
	err     error  // the first statement that failed: the transaction is aborted
}

func (r *readTx) Version() uint64 { return r.version }

func (r *readTx) checkTable(table string) error {
	if _, ok := r.d.tables[table]; !ok { // the Store checks tables first
		return fmt.Errorf("storage: table %q: %w", table, storage.ErrNoTable)
	}
	return nil
}

// ctx bounds one statement.
func (r *readTx) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.d.opts.Timeout)
}

// failed records a statement's error: PostgreSQL aborts the transaction
// it ran in, so nothing after it can commit.
func (r *readTx) failed(op string, err error) error {
	err = r.d.fail(op, err)
	if r.err == nil {
		r.err = err
	}
	return err
}

// stored reads key's stored value and checksum from the database.
func (r *readTx) stored(table, key string) (v []byte, sum int32, found bool, err error) {
	if r.err != nil {
		return nil, 0, false, r.err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	err = r.conn.QueryRow(ctx, r.d.q.get, table, keyHash(key)).Scan(&v, &sum)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, r.failed("read", err)
	}
	return v, sum, true, nil
}

func (r *readTx) Get(table, key string) ([]byte, bool, error) {
	if err := r.checkTable(table); err != nil {
		return nil, false, err
	}
	v, sum, found, err := r.stored(table, key)
	if err != nil || !found {
		return nil, false, err
	}
	if err := checkValue(table, key, v, sum); err != nil {
		return nil, false, err
	}
	return nonNil(v), true, nil
}

func (r *readTx) Scan(table string, o storage.ScanOptions) ([]storage.KV, string, error) {
	if err := r.checkTable(table); err != nil {
		return nil, "", err
	}
	kvs, err := r.scanRows(table, o, o.Limit+1)
	if err != nil {
		return nil, "", err
	}
	return page(kvs, o.Limit)
}

// page cuts rows to limit, returning the next cursor when there were more.
func page(kvs []storage.KV, limit int) ([]storage.KV, string, error) {
	if len(kvs) > limit {
		kvs = kvs[:limit]
		return kvs, kvs[len(kvs)-1].Key, nil
	}
	return kvs, "", nil
}

// ReadLog calls visit with the changes of each version in (after, upto]
// that changed something, in order (see storage.DriverReadTx). Every
// version has a log row, so a missing one is a trim.
func (r *readTx) ReadLog(after, upto uint64, visit func(version uint64, changes []storage.Change) bool) error {
	if after < r.floor {
		return fmt.Errorf("storage: changes after version %d: %w", after, storage.ErrResync)
	}
	if r.err != nil {
		return r.err
	}
	upto = min(upto, r.top)
	const chunk = 512
	for after < upto {
		ctx, cancel := r.ctx()
		rows, err := r.conn.Query(ctx, r.d.q.readLog, int64(after), int64(upto), chunk)
		if err != nil {
			cancel()
			return r.failed("read the change log", err)
		}
		recs, err := collectLog(rows)
		cancel()
		if err != nil {
			return r.failed("read the change log", err)
		}
		if len(recs) == 0 {
			// A snapshot shows its own version's row; none means a trim
			// this snapshot does not show (a write transaction sees others').
			return fmt.Errorf("storage: changes after version %d: %w", after, storage.ErrResync)
		}
		for _, rec := range recs {
			if rec.version != after+1 {
				return fmt.Errorf("storage: changes after version %d: %w", after, storage.ErrResync)
			}
			after = rec.version
			changes, err := decodeRecord(rec.version, rec.data, rec.sum)
			if err != nil {
				return err
			}
			if len(changes) > 0 && !visit(rec.version, changes) {
				return nil
			}
		}
	}
	return nil
}

// logRec is one change-log row as read.
type logRec struct {
	version uint64
	data    []byte
	sum     int32
}

func collectLog(rows pgx.Rows) ([]logRec, error) {
	var out []logRec
	for rows.Next() {
		var v int64
		var rec logRec
		if err := rows.Scan(&v, &rec.data, &rec.sum); err != nil {
			rows.Close()
			return nil, err
		}
		rec.version = uint64(v)
		out = append(out, rec)
	}
	return out, rows.Err()
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// writeTx is a storage.DriverWriteTx: one write function's view of its
// batch's transaction. Writes wait in pending (shared by the batch) until
// the commit sends them all at once; reads look there first.
type writeTx struct {
	readTx
	pending map[tableKey]pendingWrite
	audit   []byte // the running function's audit record (audit.go)
}

type tableKey struct{ table, key string }

// pendingWrite is a row's state after the batch's writes so far: a value
// (put) or none (deleted).
type pendingWrite struct {
	put   bool
	value []byte
}

// Raw's bytes encode the pending state for Restore: nil when the batch has
// not written the key (Restore forgets it), rawDeleted when it deleted it,
// else rawPut then the value.
const (
	rawDeleted = 'd'
	rawPut     = 'p'
)

func (w *writeTx) Get(table, key string) ([]byte, bool, error) {
	if err := w.checkTable(table); err != nil {
		return nil, false, err
	}
	if p, ok := w.pending[tableKey{table, key}]; ok {
		if !p.put {
			return nil, false, nil
		}
		return append([]byte{}, p.value...), true, nil
	}
	return w.readTx.Get(table, key)
}

func (w *writeTx) Put(table, key string, value []byte) ([]byte, error) {
	if err := w.checkTable(table); err != nil {
		return nil, err
	}
	v := append([]byte{}, value...) // never changed: a later Put replaces the entry
	w.pending[tableKey{table, key}] = pendingWrite{put: true, value: v}
	return v, nil
}

func (w *writeTx) Delete(table, key string) (bool, error) {
	if err := w.checkTable(table); err != nil {
		return false, err
	}
	tk := tableKey{table, key}
	if p, ok := w.pending[tk]; ok {
		if p.put {
			w.pending[tk] = pendingWrite{}
		}
		return p.put, nil
	}
	if w.err != nil {
		return false, w.err
	}
	ctx, cancel := w.ctx()
	defer cancel()
	var found bool
	if err := w.conn.QueryRow(ctx, w.d.q.exists, table, keyHash(key)).Scan(&found); err != nil {
		return false, w.failed("delete", err)
	}
	if found {
		w.pending[tk] = pendingWrite{}
	}
	return found, nil
}

func (w *writeTx) Raw(table, key string) ([]byte, bool, error) {
	if err := w.checkTable(table); err != nil {
		return nil, false, err
	}
	p, ok := w.pending[tableKey{table, key}]
	switch {
	case !ok:
		return nil, false, nil
	case !p.put:
		return []byte{rawDeleted}, false, nil
	}
	return append([]byte{rawPut}, p.value...), true, nil
}

func (w *writeTx) Restore(table, key string, raw []byte, found bool) error {
	tk := tableKey{table, key}
	switch {
	case raw == nil:
		delete(w.pending, tk)
	case found && raw[0] == rawPut:
		w.pending[tk] = pendingWrite{put: true, value: raw[1:]}
	case !found && raw[0] == rawDeleted:
		w.pending[tk] = pendingWrite{}
	default:
		return fmt.Errorf("storage: restore %q: not what Raw returned", storage.ShortKey(key))
	}
	return nil
}

func (w *writeTx) Scan(table string, o storage.ScanOptions) ([]storage.KV, string, error) {
	if err := w.checkTable(table); err != nil {
		return nil, "", err
	}
	return w.scanPending(table, o)
}
