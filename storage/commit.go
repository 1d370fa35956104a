package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// request is one Update call waiting for the commit loop.
type request struct {
	ctx     context.Context
	fn      func(*WriteTx) error
	done    chan struct{}
	version uint64
	err     error
	changes []Change
}

// commitLoop owns every write. It takes the first queued request, then any
// others already waiting (up to MaxBatch), and commits them together: a lone
// writer commits at once, and writers that arrive during a commit's fsync
// share the next one. When the last commit was shared, writers are many:
// until as many as last time have arrived, the loop lingers up to
// Options.Linger for them, since under load a commit's CPU (page writes,
// two fsync calls) shared by more writers is what raises throughput.
func (s *Store) commitLoop() {
	defer close(s.loopDone)
	batch := make([]*request, 0, s.opts.MaxBatch)
	var linger *time.Timer
	last := 0 // writers in the previous commit
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.closing:
			return
		}
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if want := min(last, s.opts.MaxBatch); want > 1 && len(batch) < want && s.opts.Linger > 0 {
			if linger == nil {
				linger = time.NewTimer(s.opts.Linger)
			} else {
				linger.Reset(s.opts.Linger)
			}
		wait:
			for len(batch) < want {
				select {
				case r := <-s.reqs:
					batch = append(batch, r)
				case <-linger.C:
					break wait
				case <-s.closing:
					break wait
				}
			}
			linger.Stop()
		}
		last = len(batch)
		s.commit(batch)
	}
}

// commit runs batch in one bbolt transaction, then publishes what committed.
func (s *Store) commit(batch []*request) {
	base := s.version.Load()
	next := base
	var events []Event
	var recs []logRecord
	err := s.db.Update(func(btx *bolt.Tx) error {
		events, recs = events[:0], recs[:0]
		next = base
		for _, r := range batch {
			r.err, r.changes = nil, nil
			if err := r.ctx.Err(); err != nil {
				r.err = err
				continue
			}
			w := &WriteTx{ReadTx: ReadTx{s: s, tx: btx, version: next + 1}}
			if err := runFn(r.fn, w); err != nil {
				if rbErr := w.rollback(); rbErr != nil {
					return rbErr // the shared transaction is unsafe now: fail it all
				}
				r.err = err
				continue
			}
			next++
			r.version, r.changes = next, w.changes
			if len(w.changes) > 0 {
				recs = append(recs, logRecord{version: next, data: encodeChanges(w.changes)})
				events = append(events, Event{Version: next, Changes: w.changes})
			}
		}
		if next == base {
			return nil
		}
		if err := s.appendLog(btx, recs); err != nil {
			return err
		}
		meta := btx.Bucket(metaBucket)
		if err := putUint(meta, keyVersion, next); err != nil {
			return err
		}
		return s.trimLog(btx, next)
	})
	if err != nil {
		err = fmt.Errorf("storage: commit to %s: %w", s.path, err)
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
			r.version, r.changes = 0, nil
		}
		for _, r := range batch {
			close(r.done)
		}
		return
	}
	s.publish(next, events)
	for _, r := range batch {
		close(r.done)
	}
}

// runFn runs fn, turning a panic into an error so one bad function cannot
// take down the commit loop and every writer with it.
func runFn(fn func(*WriteTx) error, w *WriteTx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("storage: write function panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(w)
}

// trimChunk is how many records below the log's floor pile up before
// trimLog deletes them.
const trimChunk = 256

// trimLog raises the log's floor to the retention window. Readers never
// read below the floor, so the records under it are deleted only once
// trimChunk of them have piled up: deleting from the front rewrites the log
// bucket's first leaf and branch pages, and doing that every commit would
// cost a lone small commit about as much as its own row.
func (s *Store) trimLog(btx *bolt.Tx, now uint64) error {
	if now <= s.opts.LogRetention {
		return nil
	}
	floor := now - s.opts.LogRetention
	if floor <= s.logFloor.Load() {
		return nil
	}
	if err := putUint(btx.Bucket(metaBucket), keyLogFloor, floor); err != nil {
		return err
	}
	// Raised before commit succeeds: a reader told "resync" a little early
	// loses nothing, whereas one told "complete" after a trim would.
	s.logFloor.Store(floor)
	if floor < s.logTrimmed+trimChunk {
		return nil
	}
	c := btx.Bucket(logBucket).Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= floor; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("storage: trim change log: %w", err)
		}
	}
	// Only a hint for when to trim next: if this commit fails, the next
	// trim deletes from the front all the same.
	s.logTrimmed = floor
	return nil
}

func versionKey(v uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], v)
	return k[:]
}
