package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/mcp-sync/mcp-sync/storage"
)

// internalDetail hides an internal failure's detail behind a reference: its
// message is safe to show any client, and the detail, logged at ERROR with
// the same reference, stays in the chain for Go callers (errors.As/Is).
type internalDetail struct {
	ref string
	err error
}

func (e *internalDetail) Error() string {
	return "internal error (ref " + e.ref + "); the server logged the detail"
}

func (e *internalDetail) Unwrap() error { return e.err }

// NewRef returns a fresh random reference id (8 hex digits) that ties a
// client-facing message to the server log line holding the detail.
func NewRef() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// internal logs err at ERROR under a new reference and returns an
// ErrInternal error whose message holds only where and the reference. stack
// (may be nil) goes to the log too.
func (e *Engine) internal(where string, err error, stack []byte) error {
	ref := NewRef()
	args := []any{"ref", ref, "where", where, "err", err}
	if stack != nil {
		args = append(args, "stack", string(stack))
	}
	e.log.Error("internal error", args...)
	return withKind(ErrInternal, where, &internalDetail{ref: ref, err: err})
}

// storageFailure classifies an error from a storage call: closed stays
// ErrClosed, a cancelled context stays itself, errors already classified
// keep their kind, an unreachable store is ErrUnavailable (retry), a
// damaged row is ErrDamaged naming it, and anything
// else is internal (its text may name the data file, and is not the
// caller's business).
func (e *Engine) storageFailure(where string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrClosed):
		return err
	case errors.Is(err, storage.ErrClosed):
		return withKind(ErrClosed, where, ErrClosed)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case KindOf(err) != nil:
		return err
	}
	if errors.Is(err, storage.ErrUnavailable) {
		// The driver's message names no server and says what to do.
		e.log.Warn("storage unavailable", "where", where, "err", err)
		return withKind(ErrUnavailable, where, err)
	}
	var damaged *storage.CorruptError
	if errors.As(err, &damaged) {
		// The row's table and key are what the caller needs to act on, and
		// all the message holds (no path).
		e.log.Error("damaged row", "where", where, "table", damaged.Table, "key", Short(damaged.Key), "problem", damaged.Problem)
		return withKind(ErrDamaged, "", e.ownerless(damaged))
	}
	return e.internal(where, err, nil)
}
