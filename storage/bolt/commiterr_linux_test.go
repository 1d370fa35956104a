package bolt

import (
	"context"
	"errors"
	"github.com/mcp-sync/mcp-sync/storage"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCommitErrorHasNoPath: a commit that fails in bbolt's I/O (here the
// file may not grow: RLIMIT_FSIZE, like a full disk) returns ErrCommit
// with no file path in its text: it reaches clients.
func TestCommitErrorHasNoPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.db")
	s := openAt(t, path, Options{})
	put(t, s, "a", "k", "v")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skip(err)
	}
	// No test in this package runs in parallel: for this moment no other
	// file grows in this process. Go ignores SIGXFSZ, so the write fails
	// with EFBIG.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(fi.Size()), Max: old.Max}); err != nil {
		t.Skip(err)
	}
	_, err = s.Update(context.Background(), func(w *storage.WriteTx) error {
		return w.Put("a", "big", make([]byte, 4<<20))
	})
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatal("a commit growing the file past RLIMIT_FSIZE succeeded")
	}
	if !errors.Is(err, storage.ErrCommit) {
		t.Errorf("commit error %v: want storage.ErrCommit in its chain", err)
	}
	if strings.Contains(err.Error(), path) || strings.Contains(err.Error(), filepath.Dir(path)) {
		t.Fatalf("the commit error carries the file's path: %v", err)
	}
	t.Logf("commit error: %v", err)
	put(t, s, "a", "k2", "v2") // and the store writes again once the file may grow
}
