package bolt

import (
	"bytes"
	"errors"

	bbolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/storage"
)

// walkChunk is how many keys one read transaction of walkAfterFastOpen
// visits, so that Close never waits long for it.
const walkChunk = 4096

// errNoCommit rolls back the transaction that only takes the writer lock.
var errNoCommit = errors.New("no commit")

// walkAfterFastOpen reads every page of the tree that a fast open (a file
// closed cleanly) left unread, beside the first writes. Until it is done,
// commits write the free list (the file was opened so), so that a commit
// that fails reloads the saved list: in NoFreelistSync mode bbolt rebuilds
// it by walking the file itself, and on a damaged page it panics in a
// goroutine of its own, where nothing can recover and the process dies.
// A walk that meets damage marks the file damaged (writes refused, as for
// any damage met); one that completes lets commits stop writing the free
// list (from the next write's commit on, so a crash after it gets the full
// check at open). A crash before the walk is done leaves the free list
// saved, consistent as bbolt keeps it: the next open is fast and walks
// again. It gives up when Close begins.
func (s *Driver) walkAfterFastOpen() {
	defer s.walked.Done()
	var names [][]byte
	err := guard("read the data file", func() error {
		return s.db.View(func(tx *bbolt.Tx) error {
			return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
				names = append(names, bytes.Clone(name))
				return nil
			})
		})
	})
	for _, name := range names {
		var after []byte
		for more := true; err == nil && more; {
			if s.isClosing() {
				return
			}
			err = guard("read the data file", func() error {
				return s.db.View(func(tx *bbolt.Tx) error {
					after, more = walkBucket(tx.Bucket(name), after)
					return nil
				})
			})
		}
	}
	if err != nil && !errors.Is(err, storage.ErrCorrupt) {
		if s.opts.Logger != nil {
			s.opts.Logger.Warn("could not read the whole data file after opening it: the free list is still written at every commit", "file", s.path, "error", err)
		}
		return
	}
	if err != nil {
		s.markDamaged(err)
		if s.opts.Logger != nil {
			s.opts.Logger.Error("the data file is damaged: writes are refused; stop the server and run `mcp-sync check` on it", "file", s.path, "error", err)
		}
		return
	}
	err = guard("stop writing the free list", func() error {
		err := s.db.Update(func(*bbolt.Tx) error {
			if !s.isClosing() { // Close saves the free list after this
				s.db.NoFreelistSync = true // read by Commit, under the writer lock held here
			}
			return errNoCommit // the next write's commit is the first without it
		})
		if errors.Is(err, errNoCommit) {
			return nil
		}
		return err
	})
	if err != nil && s.opts.Logger != nil {
		s.opts.Logger.Warn("the free list is still written at every commit", "file", s.path, "error", err)
	}
}

// walkBucket visits up to walkChunk keys of b after the key after (nil: from
// the first) and returns the last key visited and whether keys remain.
func walkBucket(b *bbolt.Bucket, after []byte) ([]byte, bool) {
	if b == nil {
		return nil, false
	}
	c := b.Cursor()
	k, v := c.First()
	if after != nil {
		if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
	}
	for n := 0; k != nil; n++ {
		if n == walkChunk {
			return bytes.Clone(after), true
		}
		if len(v) > 0 { // a large value lives on overflow pages: read them too
			_ = v[0] + v[len(v)-1]
		}
		after = k
		k, v = c.Next()
	}
	return nil, false
}

func (s *Driver) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}
