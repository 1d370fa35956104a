//go:build !unix

package bolt

import (
	"errors"
	"os"
	"time"
)

var errLockTimeout = errors.New("lock wait timed out")

// lockFile does nothing where flock is missing: bbolt takes its own lock
// when it opens the file, and reports a timeout as before.
func lockFile(*os.File, bool, time.Duration) error { return nil }

// mapFile maps nothing here: verify reads the file.
func mapFile(*os.File, int64) ([]byte, func()) { return nil, nil }
