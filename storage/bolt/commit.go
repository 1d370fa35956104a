package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// request is one Update call waiting for its commit.
type request struct {
	fn      func(storage.DriverWriteTx) ([]storage.Change, error)
	wake    chan struct{} // one token: committed, or made the leader
	lead    bool          // set under qmu before wake: commit the queue
	version uint64
	err     error
}

// enqueue adds r to the write queue and reports whether its caller must
// lead: commit the queue itself. There is no commit goroutine: the first
// writer to find nobody committing does it, so a lone writer runs its
// commit on its own goroutine, with no hand-off to wait for after the
// fsync (measured at ~5 futex calls per stdio call less).
func (s *Driver) enqueue(r *request) (lead bool, err error) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return false, storage.ErrClosed
	}
	s.queue = append(s.queue, r)
	if !s.leading {
		s.leading = true
		return true, nil
	}
	select { // wake a lingering leader
	case s.arrived <- struct{}{}:
	default:
	}
	return false, nil
}

// lead commits one batch, the one holding the caller's own request, then
// hands the lead to the next queued writer (or gives it up when none is
// left), so no caller commits for others after its own write is done. A
// batch is whatever is
// queued (up to MaxBatch); when the last batch was shared, writers are many,
// and until as many as last time have queued the leader lingers up to
// Options.Linger for them, since under load a commit's CPU (page writes, two
// fsync calls) shared by more writers is what raises throughput.
func (s *Driver) lead() {
	s.qmu.Lock()
	want := min(s.lastBatch, s.opts.MaxBatch)
	if want > 1 && len(s.queue) < want && s.opts.Linger > 0 && !s.closed {
		s.qmu.Unlock()
		s.linger(want)
		s.qmu.Lock()
	}
	n := min(len(s.queue), s.opts.MaxBatch)
	batch := make([]*request, n)
	copy(batch, s.queue)
	s.queue = append(s.queue[:0], s.queue[n:]...)
	s.lastBatch = n
	s.qmu.Unlock()

	s.commit(batch)

	s.qmu.Lock()
	if len(s.queue) > 0 {
		next := s.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		s.leading = false
		if s.closed {
			close(s.drained)
		}
	}
	s.qmu.Unlock()
	for _, r := range batch {
		r.wake <- struct{}{}
	}
}

// linger waits until want writers are queued, Options.Linger passes, or the
// store closes.
func (s *Driver) linger(want int) {
	t := time.NewTimer(s.opts.Linger)
	defer t.Stop()
	for {
		s.qmu.Lock()
		enough := len(s.queue) >= want || s.closed
		s.qmu.Unlock()
		if enough {
			return
		}
		select {
		case <-s.arrived:
		case <-t.C:
			return
		case <-s.closing:
			return
		}
	}
}

// commit runs batch in one bbolt transaction, then publishes what committed.
func (s *Driver) commit(batch []*request) {
	base := s.version.Load()
	next := base
	var events []storage.Event
	var recs []logRecord
	var audits []auditRecord
	if err := s.damage(); err != nil {
		for _, r := range batch {
			r.err, r.version = err, 0
		}
		return
	}
	err := guard("commit", func() error {
		return s.db.Update(func(btx *bbolt.Tx) error {
			events, recs = events[:0], recs[:0]
			next = base
			// One for the batch: a function must not keep its transaction.
			w := &writeTx{readTx: readTx{s: s, tx: btx}}
			w.w = w
			audits = audits[:0]
			for _, r := range batch {
				w.version, w.audit = next+1, nil
				changes, err := r.fn(w)
				if err := s.damage(); err != nil {
					return err // a read or write met a damaged page: commit nothing
				}
				if errors.Is(err, storage.ErrUndoFailed) {
					return err // the shared transaction is unsafe now: fail it all
				}
				r.err = err
				if err != nil {
					continue // fn undid its own writes
				}
				next++
				r.version = next
				if w.audit != nil {
					audits = append(audits, auditRecord{version: next, data: w.audit})
				}
				if len(changes) > 0 {
					recs = append(recs, logRecord{version: next, data: w.undoRecord(next, changes)})
					events = append(events, storage.Event{Version: next, Changes: changes})
				}
			}
			if next == base {
				return nil
			}
			if err := s.appendLog(btx, recs); err != nil {
				return err
			}
			if err := s.writeAudit(btx, audits, next); err != nil {
				return err
			}
			meta := btx.Bucket(metaBucket)
			if err := putUint(meta, keyVersion, next); err != nil {
				return err
			}
			return s.trimLog(btx, next)
		})
	})
	if err != nil {
		if errors.Is(err, storage.ErrCorrupt) {
			s.markDamaged(err)
		}
		err = pathless(err, s.path) // it reaches clients
		for _, r := range batch {
			if r.err == nil || errors.Is(r.err, storage.ErrUndoFailed) {
				r.err = err
			}
			r.version = 0
		}
		return
	}
	if next == base {
		return
	}
	s.version.Store(next)
	if s.publish != nil {
		s.publish(next, events)
	}
}

// trimChunk is how many records below the log's floor pile up before
// trimLog deletes them.
const trimChunk = 256

// trimLog raises the log's floor to the retention window. Readers never
// read below the floor, so the records under it are deleted only once
// trimChunk of them have piled up: deleting from the front rewrites the log
// bucket's first leaf and branch pages, and doing that every commit would
// cost a lone small commit about as much as its own row.
func (s *Driver) trimLog(btx *bbolt.Tx, now uint64) error {
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
