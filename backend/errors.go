package backend

import (
	"errors"
	"fmt"

	"github.com/mcp-sync/mcp-sync/storage"
)

// Sentinel errors a caller (the MCP layer, the CLI, a Go client) can switch
// on with errors.Is. The errors returned wrap one of them with the details.
var (
	// ErrUnknown: no mutator, action or client-visible table has that name.
	ErrUnknown = errors.New("unknown name")
	// ErrInvalidInput: the input does not match the declared schema; the
	// chain also holds a *schema.ValidationError with the field paths.
	ErrInvalidInput = errors.New("invalid input")
	// ErrHandler: the mutator or action implementation returned an error
	// (its own error is in the chain) or panicked.
	ErrHandler = errors.New("handler failed")
	// ErrInvalidOutput: an action returned output that does not match its
	// declared output schema.
	ErrInvalidOutput = errors.New("invalid output")
	// ErrClosed: the engine is closed.
	ErrClosed = errors.New("engine closed")
	// ErrInternal: a failure that is neither the caller's fault nor the
	// handler's own returned error: a panic, a storage failure, an encode
	// failure. Its message carries only a reference id (see [NewRef]); the
	// detail went to the server log at ERROR with the same reference, and
	// stays in the error's chain for Go callers.
	ErrInternal = errors.New("internal error")
	// ErrDamaged: a stored row the call needed failed its checksum or could
	// not be decoded. The message names the table and key (never the data
	// file); `mcp-sync check` lists every damaged row.
	ErrDamaged = errors.New("damaged row")
	// ErrUnavailable: the store could not be reached (PostgreSQL restarting,
	// the network down); the call may be retried in a moment. The message
	// says whether anything may have been written.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrResync: the change log no longer reaches back to the version asked
	// for (Options.LogRetention trimmed it): read a snapshot instead. It is
	// the storage layer's own sentinel, so either name matches.
	ErrResync = storage.ErrResync
)

// retryableError marks an action error as worth another attempt.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// Retryable marks err as transient: an enqueued action run that fails with it
// is attempted again (see [Options]). Errors are final unless marked; AI
// provider errors for rate limits, server errors and cut streams are marked
// by the provider.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryableError{err}
}

// IsRetryable reports whether err, or an error it wraps, was marked with
// [Retryable] or says so itself with a Temporary() or Retryable() method.
func IsRetryable(err error) bool {
	var r *retryableError
	if errors.As(err, &r) {
		return true
	}
	var t interface{ Retryable() bool }
	if errors.As(err, &t) {
		return t.Retryable()
	}
	var tmp interface{ Temporary() bool }
	return errors.As(err, &tmp) && tmp.Temporary()
}

// kindError puts a sentinel (ErrHandler, ErrInvalidInput, ...) in an error's
// chain without putting its text in the message, which stays the
// underlying error's, prefixed with where it came from.
type kindError struct {
	kind   error
	prefix string
	err    error
}

func (e *kindError) Error() string {
	if e.prefix == "" {
		return e.err.Error()
	}
	return e.prefix + ": " + e.err.Error()
}

func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func withKind(kind error, prefix string, err error) error {
	return &kindError{kind: kind, prefix: prefix, err: err}
}

func unknownf(format string, args ...any) error {
	return withKind(ErrUnknown, "", fmt.Errorf(format, args...))
}

// decodeError is an input that passed its schema but not json.Unmarshal into
// the Go type (say 300 for an int8). It is the caller's mistake, not the
// handler's, so the engine reports it as invalid input.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// KindOf returns the sentinel (ErrUnknown, ErrInvalidInput, ErrHandler,
// ErrInvalidOutput, ErrClosed, ErrInternal, ErrDamaged, ErrUnavailable) that classifies err as a
// whole, or nil. Use it
// rather than a chain of errors.Is: an action whose inner ctx.Mutate got
// invalid input failed as a handler (ErrHandler), though ErrInvalidInput is
// also somewhere in its chain.
func KindOf(err error) error {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	if errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	return nil
}
