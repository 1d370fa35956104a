package bolt

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/mcp-sync/mcp-sync/storage"
)

// bbolt reads pages straight from its memory map and trusts them: a damaged
// page makes it panic, or fault (SIGSEGV, or SIGBUS past the end of a
// truncated file), which kills the process unless the goroutine has asked
// for faults as panics. Every call into bbolt that may meet a page runs
// under guard or catch, and the first such panic marks the store damaged:
// from then on it refuses writes rather than write to a damaged file.

// guard runs fn with faults turned into panics, and returns any panic as an
// storage.ErrCorrupt error saying what was being done.
func guard(what string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = damageError(what, p)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return fn()
}

// damageError describes a panic met inside bbolt. It carries no file path:
// it may reach a client.
func damageError(what string, p any) error {
	msg := fmt.Sprint(p)
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return fmt.Errorf("storage: the data file is damaged (%s failed: %s): %w", what, msg, storage.ErrCorrupt)
}

// catch, deferred, turns a panic into *err and marks the store damaged. The
// caller must also defer debug.SetPanicOnFault(debug.SetPanicOnFault(true)),
// after it, so that faults arrive as panics.
func (s *Driver) catch(err *error, what string) {
	if p := recover(); p != nil {
		*err = s.markDamaged(damageError(what, p))
	}
}

// markDamaged records the first damage found and returns err.
func (s *Driver) markDamaged(err error) error {
	s.damaged.CompareAndSwap(nil, &err)
	return err
}

// damage returns the damage that stopped writes, or nil.
func (s *Driver) damage() error {
	if p := s.damaged.Load(); p != nil {
		return fmt.Errorf("storage: writes refused since the data file was found damaged; stop the server and run `mcp-sync check` on it: %w", *p)
	}
	return nil
}

// userPanic carries a panic of the caller's own function through a guarded
// bbolt call, to be raised again outside it: it is not damage.
type userPanic struct{ v any }

// callUser runs fn, catching its panic into *up.
func callUser(up **userPanic, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			*up = &userPanic{p}
			err = fmt.Errorf("storage: caller's function panicked")
		}
	}()
	return fn()
}

// isRowDamage reports whether err is damage to one row or log record (a
// failed checksum), which leaves the rest of the file writable.
func isRowDamage(err error) bool {
	var ce *storage.CorruptError
	return errors.As(err, &ce)
}
