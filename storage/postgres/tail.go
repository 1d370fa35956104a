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
	if d.published.Load() < base {
		d.publishLog(context.Background(), conn.Conn(), base)
	}
	d.pubMu.Lock()
	defer d.pubMu.Unlock()
	published := d.published.Load()
	if published >= next {
		return // the listener read it from the log first
	}
	if published < base {
		d.publishGapLocked(base) // unreadable now: subscribers read the log themselves
	} else if published > base {
		// The listener published the start of the batch (a read of the
		// log ended inside it): only the rest is news.
		for len(events) > 0 && events[0].Version <= published {
			events = events[1:]
		}
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

// publishLog publishes, from the log, the versions after the last published
// one, through upto (0: all). It reads without holding pubMu, which every
// commit of this process needs to publish: a read that stalls (a listener
// connection gone silent) must not hold up this process's commits until
// its timeout. It reports whether it reached the log's end.
func (d *Driver) publishLog(ctx context.Context, conn *pgx.Conn, upto uint64) (done bool) {
	for {
		from := d.published.Load()
		if upto != 0 && from >= upto {
			return true
		}
		recs, err := d.readLogAfter(ctx, conn, from, upto)
		if err != nil {
			if d.opts.Logger != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				d.opts.Logger.Warn("could not read the change log for other processes' commits", "error", d.fail("read the change log", err))
			}
			return false
		}
		if len(recs) == 0 {
			return true
		}
		d.pubMu.Lock()
		d.publishRecsLocked(recs)
		d.pubMu.Unlock()
		if len(recs) < tailChunk {
			return true
		}
	}
}

// readLogAfter reads up to tailChunk log records after version from,
// through upto (0: to the end).
func (d *Driver) readLogAfter(ctx context.Context, conn *pgx.Conn, from, upto uint64) ([]logRec, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	var rows pgx.Rows
	var err error
	if upto != 0 {
		rows, err = conn.Query(ctx, d.q.readLog, int64(from), int64(upto), tailChunk)
	} else {
		rows, err = conn.Query(ctx, d.q.tail, int64(from), tailChunk)
	}
	if err != nil {
		return nil, err
	}
	return collectLog(rows)
}

// publishRecsLocked publishes recs, read from the log, beyond what was
// published meanwhile; pubMu is held. A record missing (trimmed past) or
// damaged publishes a gap instead.
func (d *Driver) publishRecsLocked(recs []logRec) {
	last := recs[len(recs)-1].version
	next := d.published.Load() + 1
	if next > last {
		return
	}
	var events []storage.Event
	for _, rec := range recs {
		if rec.version < next {
			continue // published while this was read
		}
		changes, err := decodeRecord(rec.version, rec.data, rec.sum)
		if rec.version != next || err != nil {
			// Subscribers read the log and resync, or meet the damage
			// themselves.
			d.publishGapLocked(last)
			return
		}
		next++
		if len(changes) > 0 {
			events = append(events, storage.Event{Version: rec.version, Changes: changes})
		}
	}
	d.publishLocked(last, events)
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
		d.publishLog(ctx, conn, 0)
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
