package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

func (s *Store) checkFilter(f Filter) error {
	if f.Table == "" {
		return errors.New("storage: filter names no table")
	}
	if _, ok := s.tables[f.Table]; !ok {
		return fmt.Errorf("storage: table %q: %w", f.Table, ErrNoTable)
	}
	return nil
}

// ChangesSince returns up to limit events (0 means 1000) with versions after
// the given one that f selects, in order. It fails with ErrResync when the
// log no longer reaches back to after.
func (s *Store) ChangesSince(after uint64, f Filter, limit int) ([]Event, error) {
	if err := s.checkFilter(f); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []Event
	err := s.View(func(tx *ReadTx) error {
		var err error
		out, _, err = s.readLog(tx.tx, after, tx.version, f, limit)
		return err
	})
	return out, err
}

// readLog reads events in (after, upto] selected by f, at most limit of them,
// and returns the version it read through.
func (s *Store) readLog(btx *bolt.Tx, after, upto uint64, f Filter, limit int) (_ []Event, _ uint64, err error) {
	defer s.catch(&err, "read the change log")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	if after < s.logFloor.Load() {
		return nil, after, fmt.Errorf("storage: changes after version %d: %w", after, ErrResync)
	}
	var out []Event
	through := after
	full := false
	visit := func(ver uint64, data []byte) (bool, error) {
		if ver <= after {
			return true, nil
		}
		if ver > upto {
			return false, nil
		}
		changes, err := decodeRecord(ver, data)
		if err != nil {
			return false, err
		}
		through = ver
		if ev, ok := f.apply(Event{Version: ver, Changes: changes}); ok {
			out = append(out, ev)
			full = len(out) == limit
		}
		return !full, nil
	}
	// The bucket holds the older records, the tail the newest (appendLog).
	more := true
	c := btx.Bucket(logBucket).Cursor()
	for k, v := c.Seek(versionKey(after + 1)); k != nil && more; k, v = c.Next() {
		var err error
		if more, err = visit(binary.BigEndian.Uint64(k), v); err != nil {
			return nil, through, err
		}
	}
	if more {
		tail, err := decodeTail(btx.Bucket(metaBucket).Get(keyLogTail), false)
		if err != nil {
			return nil, through, err
		}
		for _, r := range tail {
			if more, err = visit(r.version, r.data); err != nil || !more {
				break
			}
		}
		if err != nil {
			return nil, through, err
		}
	}
	if full {
		return out, through, nil
	}
	// Checked again after reading: a trim racing this read may have removed
	// records it needed.
	if after < s.logFloor.Load() {
		return nil, after, fmt.Errorf("storage: changes after version %d: %w", after, ErrResync)
	}
	return out, upto, nil
}
