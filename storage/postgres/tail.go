package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mcp-sync/mcp-sync/storage"
)

// tailChunk is how many log rows one read of other processes' commits
// takes.
const tailChunk = 1000

// publishOwn publishes a batch this process committed as versions (base,
// next], after the versions other processes committed before it (read from
// the log on conn, unless the listener already has).
func (d *Driver) publishOwn(conn *pgxpool.Conn, base, next uint64, events []storage.Event) {
	d.pubMu.Lock()
	defer d.pubMu.Unlock()
	if d.published.Load() >= next {
		return // the listener read it from the log first
	}
	if d.published.Load() < base {
		d.publishLogLocked(conn.Conn(), base)
	}
	if d.published.Load() < base {
		d.publishGapLocked(base) // unreadable now: subscribers read the log themselves
	}
	d.publishLocked(next, events)
}

// publishLocked tells the Store of versions through v; pubMu is held.
func (d *Driver) publishLocked(v uint64, events []storage.Event) {
	if d.publish != nil {
		d.publish(v, events)
	}
	d.published.Store(v)
}

// publishGapLocked publishes versions through v without their changes:
// live subscriptions fall back to reading the log.
func (d *Driver) publishGapLocked(v uint64) {
	d.publishLocked(v, []storage.Event{{Version: v, Resync: true}})
}

// publishLogLocked publishes, from the log, the versions after the last
// published one, through upto (0: all); pubMu is held. It reports whether
// it reached the log's end.
func (d *Driver) publishLogLocked(conn *pgx.Conn, upto uint64) (done bool) {
	for {
		from := d.published.Load()
		if upto != 0 && from >= upto {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
		var rows pgx.Rows
		var err error
		if upto != 0 {
			rows, err = conn.Query(ctx, d.q.readLog, int64(from), int64(upto), tailChunk)
		} else {
			rows, err = conn.Query(ctx, d.q.tail, int64(from), tailChunk)
		}
		var recs []logRec
		if err == nil {
			recs, err = collectLog(rows)
		}
		cancel()
		if err != nil {
			if d.opts.Logger != nil && !errors.Is(err, context.Canceled) {
				d.opts.Logger.Warn("could not read the change log for other processes' commits", "error", d.fail("read the change log", err))
			}
			return false
		}
		if len(recs) == 0 {
			return true
		}
		last := recs[len(recs)-1].version
		var events []storage.Event
		for i, rec := range recs {
			changes, err := decodeRecord(rec.version, rec.data, rec.sum)
			if rec.version != from+uint64(i)+1 || err != nil {
				// Trimmed past, or damaged: subscribers read the log and
				// resync, or meet the damage themselves.
				events = nil
				d.publishGapLocked(last)
				break
			}
			if len(changes) > 0 {
				events = append(events, storage.Event{Version: rec.version, Changes: changes})
			}
		}
		if d.published.Load() < last {
			d.publishLocked(last, events)
		}
		if len(recs) < tailChunk {
			return true
		}
	}
}

// tail publishes other processes' commits: it listens for the commit
// notifications, and on each (or every Options.Poll without one) reads the
// log after the last published version. It reconnects on its own.
func (d *Driver) tail(ctx context.Context) {
	defer close(d.tailDone)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			cancel()
		}
	}()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if conn == nil {
			c, err := d.connectListener(ctx)
			if err != nil {
				if ctx.Err() == nil && d.opts.Logger != nil {
					d.opts.Logger.Warn("change listener could not connect; retrying", "error", d.fail("listen", err))
				}
				select {
				case <-ctx.Done():
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, d.opts.Poll)
				continue
			}
			conn, backoff = c, 100*time.Millisecond
		}
		d.pubMu.Lock()
		d.publishLogLocked(conn, 0)
		d.pubMu.Unlock()
		if err := d.waitNotice(ctx, conn); err != nil && ctx.Err() == nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			cancel()
			conn = nil
		}
	}
}

func (d *Driver) connectListener(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, d.listen)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{d.q.channel}.Sanitize()); err != nil {
		_ = conn.Close(cctx)
		return nil, err
	}
	return conn, nil
}

// waitNotice waits for a notification of a version not yet known, a poke,
// or the poll interval; it fails only when the connection does.
func (d *Driver) waitNotice(ctx context.Context, conn *pgx.Conn) error {
	wctx, cancel := context.WithTimeout(ctx, d.opts.Poll)
	defer cancel()
	go func() {
		select {
		case <-d.poke:
			cancel()
		case <-wctx.Done():
		}
	}()
	for {
		n, err := conn.WaitForNotification(wctx)
		if err != nil {
			if wctx.Err() != nil && !conn.IsClosed() {
				return nil // poll, poke or stop
			}
			return err
		}
		v, perr := strconv.ParseUint(n.Payload, 10, 64)
		if perr != nil || v > max(d.published.Load(), d.committed.Load()) {
			return nil
		}
	}
}
