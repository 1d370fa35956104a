package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// commit runs batch in one bbolt transaction, then publishes what
// committed: the driver's part of its storage.CommitQueue.
func (s *Driver) commit(batch []*storage.Request) {
	base := s.version.Load()
	next := base
	var events []storage.Event
	var recs []logRecord
	var audits []auditRecord
	if err := s.damage(); err != nil {
		for _, r := range batch {
			r.Err, r.Version = err, 0
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
				changes, err := r.Fn(w)
				if err := s.damage(); err != nil {
					return err // a read or write met a damaged page: commit nothing
				}
				if errors.Is(err, storage.ErrUndoFailed) {
					return err // the shared transaction is unsafe now: fail it all
				}
				r.Err = err
				if err != nil {
					continue // fn undid its own writes
				}
				next++
				r.Version = next
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
			if r.Err == nil || errors.Is(r.Err, storage.ErrUndoFailed) {
				r.Err = err
			}
			r.Version = 0
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
