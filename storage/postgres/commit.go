package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mcp-sync/mcp-sync/storage"
)

// Update queues fn for the next commit and waits for it (see
// storage.Driver): the first writer to find nobody committing leads, and
// commits everything queued meanwhile in one transaction (see
// storage.CommitQueue; it never lingers: a batch is whatever queued
// during the commit before). Once queued it waits whatever ctx says, since
// the caller must learn whether fn committed; the Store's fn checks ctx
// before it writes.
func (d *Driver) Update(_ context.Context, fn func(tx storage.DriverWriteTx) ([]storage.Change, error)) (uint64, error) {
	return d.commits.Update(fn)
}

// commit runs batch in one transaction. When PostgreSQL refuses the
// batch's writes (not a lost connection) and split is set, each function
// is retried alone, so one function's bad write sinks only itself.
func (d *Driver) commit(batch []*storage.Request, split bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
	defer cancel()
	conn, base, floor, err := d.begin(ctx, "BEGIN", d.q.lock)
	if err != nil {
		failAll(batch, commitError(d.fail("commit", err)))
		return
	}
	defer conn.Release()
	c := conn.Conn()
	w := &writeTx{readTx: readTx{d: d, conn: c, floor: floor}, pending: make(map[tableKey]pendingWrite)}
	w.top = base
	next := base
	var logs []logRow
	var events []storage.Event
	var audits []logRow
	for _, r := range batch {
		w.version, w.audit = next+1, nil
		changes, err := r.Fn(w)
		if w.err != nil || errors.Is(err, storage.ErrUndoFailed) {
			// A statement failed, and with it the transaction.
			rollback(conn)
			d.retryOrFail(batch, split, w.err, err)
			return
		}
		r.Err, r.Version = err, 0
		if err != nil {
			continue // fn undid its own writes
		}
		next++
		r.Version = next
		logs = append(logs, logRow{version: next, data: encodeChanges(changes)})
		if w.audit != nil {
			audits = append(audits, logRow{version: next, data: w.audit})
		}
		if len(changes) > 0 {
			events = append(events, storage.Event{Version: next, Changes: changes})
		}
	}
	if next == base {
		rollback(conn)
		return
	}
	id := rand.Int64()
	err = c.SendBatch(ctx, d.writes(w.pending, logs, audits, id, base, next, w.floor)).Close()
	if err != nil {
		rollback(conn)
		if unavailable(err) {
			err = d.outcome(next, id, err)
		}
		if err != nil {
			d.retryOrFail(batch, split, d.fail("commit", err), nil)
			return
		}
	}
	d.committed.Store(max(d.committed.Load(), next))
	d.publishOwn(conn, base, next, events)
}

// retryOrFail retries each function of a batch whose transaction failed
// alone (when split is set, the batch has more than one and the server was
// reachable); otherwise every function fails with err (or undoErr).
func (d *Driver) retryOrFail(batch []*storage.Request, split bool, err, undoErr error) {
	if err == nil {
		err = fmt.Errorf("storage: commit failed: %w", undoErr)
	}
	if split && len(batch) > 1 && !errors.Is(err, storage.ErrUnavailable) {
		for _, r := range batch {
			r.Err, r.Version = nil, 0
			d.commit([]*storage.Request{r}, false)
		}
		return
	}
	failAll(batch, commitError(err))
}

// commitError makes err, which sank a whole transaction, match
// storage.ErrCommit too.
func commitError(err error) error {
	if errors.Is(err, storage.ErrCommit) {
		return err
	}
	return &dbError{msg: err.Error(), errs: []error{storage.ErrCommit, err}}
}

func failAll(batch []*storage.Request, err error) {
	for _, r := range batch {
		r.Err, r.Version = err, 0
	}
}

// rollback ends a transaction that will not commit. A connection it cannot
// bring back to idle is dropped by the pool on release.
func rollback(conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = conn.Exec(ctx, "ROLLBACK")
}

// logRow is one version's change-log row.
type logRow struct {
	version uint64
	data    []byte
}

// writes is the pipelined end of a batch's transaction: its rows (each key
// once: pending holds a key's last state), a log row per version, the
// versions' audit records, the new version, the trimmed log, one
// notification and COMMIT.
func (d *Driver) writes(pending map[tableKey]pendingWrite, logs, audits []logRow, id int64, base, next, floor uint64) *pgx.Batch {
	b := &pgx.Batch{}
	var pt []string
	var pk, pkp, pkh, pv [][]byte
	var psum []int32
	var dt []string
	var dkh [][]byte
	for tk, p := range pending {
		if !p.put {
			dt, dkh = append(dt, tk.table), append(dkh, keyHash(tk.key))
			continue
		}
		pt, pk, pkp, pkh = append(pt, tk.table), append(pk, []byte(tk.key)), append(pkp, keyOrder(tk.key)), append(pkh, keyHash(tk.key))
		pv, psum = append(pv, p.value), append(psum, sumValue(tk.table, tk.key, p.value))
	}
	if len(dt) > 0 {
		b.Queue(d.q.deleteRows, dt, dkh)
	}
	if len(pt) > 0 {
		b.Queue(d.q.putRows, pt, pk, pkp, pkh, pv, psum)
	}
	lv, lb, ld, ls := make([]int64, len(logs)), make([]int64, len(logs)), make([][]byte, len(logs)), make([]int32, len(logs))
	for i, l := range logs {
		lv[i], lb[i], ld[i], ls[i] = int64(l.version), id, l.data, sumRecord(l.version, l.data)
	}
	b.Queue(d.q.insertLog, lv, lb, ld, ls)
	newFloor := floor
	if next > d.opts.LogRetention {
		newFloor = max(floor, next-d.opts.LogRetention)
	}
	d.queueAudit(b, audits, base, next)
	b.Queue(d.q.setMeta, int64(next), int64(newFloor))
	if newFloor > floor {
		b.Queue(d.q.trimLog, int64(newFloor))
	}
	b.Queue(d.q.notify, d.q.channel, strconv.FormatUint(next, 10))
	b.Queue("COMMIT")
	return b
}

// outcome learns whether a batch whose connection broke during its commit
// committed: its last log row carries the batch's id. The server may still
// be finishing that commit (a cut connection does not end it at once), so
// the log is read only once the meta row's lock, which the batch held, is
// free: before, an absent row could still appear. It returns nil when
// the batch committed, else an error saying whether it did not or whether
// that is unknown.
func (d *Driver) outcome(next uint64, id int64, cause error) error {
	for try := range 10 {
		if try > 0 {
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := d.batchAt(ctx, next)
		cancel()
		switch {
		case err == nil && got == id:
			return nil
		case err == nil || errors.Is(err, pgx.ErrNoRows):
			return cause // not committed: the caller's error says unavailable
		}
	}
	if d.opts.Logger != nil {
		d.opts.Logger.Warn("lost the connection during a commit and could not learn whether it committed", "version", next, "error", cause)
	}
	return &dbError{msg: "storage: the database became unavailable during the commit, and whether it committed is unknown: read the data before retrying",
		errs: []error{storage.ErrUnavailable, storage.ErrCommit}}
}

// batchAt returns the batch id of the log row of version v, once no commit
// holds the meta row.
func (d *Driver) batchAt(ctx context.Context, v uint64) (int64, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // it only read
	var meta, got int64
	if err := tx.QueryRow(ctx, d.q.waitCommit).Scan(&meta); err != nil {
		return 0, err
	}
	err = tx.QueryRow(ctx, d.q.logRow, int64(v)).Scan(&got)
	return got, err
}
