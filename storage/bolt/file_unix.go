//go:build unix

package bolt

import (
	"errors"
	"os"
	"syscall"
	"time"
)

var errLockTimeout = errors.New("lock wait timed out")

// lockFile takes f's advisory lock (shared or exclusive) the way bbolt
// does, waiting up to timeout. Taking it before bbolt opens the file lets
// Open verify the file while no other process can be writing it; bbolt,
// handed the same open file, then takes the lock it already holds.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH | syscall.LOCK_NB
	if exclusive {
		how = syscall.LOCK_EX | syscall.LOCK_NB
	}
	start := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if time.Since(start) >= timeout {
			return errLockTimeout
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mapFile maps the first size bytes of f read-only, for verify; mem is nil
// when that fails (verify then reads the file instead).
func mapFile(f *os.File, size int64) (mem []byte, unmap func()) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil
	}
	return mem, func() { _ = syscall.Munmap(mem) }
}
