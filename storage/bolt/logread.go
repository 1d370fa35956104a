package bolt

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"

	"github.com/mcp-sync/mcp-sync/storage"
)

// ReadLog calls visit with the changes of each version in (after, upto], in
// order, until visit returns false (see storage.DriverReadTx).
func (r *readTx) ReadLog(after, upto uint64, visit func(version uint64, changes []storage.Change) bool) (err error) {
	s := r.s
	defer s.catch(&err, "read the change log")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	if after < s.logFloor.Load() {
		return fmt.Errorf("storage: changes after version %d: %w", after, storage.ErrResync)
	}
	more, stopped := true, false // stopped: by visit
	each := func(ver uint64, data []byte) error {
		if ver <= after {
			return nil
		}
		if ver > upto {
			more = false
			return nil
		}
		changes, err := decodeRecord(ver, data)
		if err != nil {
			return err
		}
		more = visit(ver, changes)
		stopped = !more
		return nil
	}
	// The bucket holds the older records, the tail the newest (appendLog).
	c := r.tx.Bucket(logBucket).Cursor()
	for k, v := c.Seek(versionKey(after + 1)); k != nil && more; k, v = c.Next() {
		if err := each(binary.BigEndian.Uint64(k), v); err != nil {
			return err
		}
	}
	if more {
		tail, err := decodeTail(r.tx.Bucket(metaBucket).Get(keyLogTail), false)
		if err != nil {
			return err
		}
		for _, rec := range tail {
			if err := each(rec.version, rec.data); err != nil || !more {
				return err
			}
		}
	}
	// Checked again after reading: a trim racing this read may have removed
	// records it needed. A reader that stopped early has what it asked for.
	if !stopped && after < s.logFloor.Load() {
		return fmt.Errorf("storage: changes after version %d: %w", after, storage.ErrResync)
	}
	return nil
}
