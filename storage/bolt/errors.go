package bolt

import (
	"errors"
	"strings"
	"syscall"

	"github.com/mcp-sync/mcp-sync/storage"
)

// commitError is a failed commit, its message stripped of the file's path
// (bbolt's I/O errors carry it), since it may reach a client.
type commitError struct {
	msg  string
	errs []error
}

func (e *commitError) Error() string   { return e.msg }
func (e *commitError) Unwrap() []error { return e.errs }

// pathless wraps a commit failure as ErrCommit, with path replaced in its
// text and only path-free errors (sentinels, the errno) kept in its chain.
func pathless(err error, path string) error {
	msg := "storage: commit failed: " + strings.ReplaceAll(err.Error(), path, "<data file>")
	errs := []error{storage.ErrCommit}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		errs = append(errs, errno)
	}
	for _, s := range []error{storage.ErrCorrupt, storage.ErrClosed, storage.ErrUndoFailed} {
		if errors.Is(err, s) {
			errs = append(errs, s)
		}
	}
	return &commitError{msg: msg, errs: errs}
}
