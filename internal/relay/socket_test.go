package relay

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// socketDir is a socket directory of the test's own (made by SocketPath).
func socketDir(t *testing.T) string { return filepath.Join(t.TempDir(), "s") }

func TestSocketPathKeyedByRealPath(t *testing.T) {
	env := socketDir(t)
	data := t.TempDir()
	a, b := filepath.Join(data, "a.db"), filepath.Join(data, "b.db")
	if err := os.WriteFile(a, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	sa, err := SocketPath(a, env)
	if err != nil {
		t.Fatal(err)
	}
	sl, _ := SocketPath(link, env)
	sb, _ := SocketPath(b, env) // not made yet: named by its directory's real path
	rel, _ := filepath.Rel(mustGetwd(t), a)
	sr, _ := SocketPath(rel, env)
	if sa != sl || sa != sr {
		t.Errorf("one file, several sockets: %s, %s (link), %s (relative)", sa, sl, sr)
	}
	if sa == sb {
		t.Errorf("two files, one socket: %s", sa)
	}
	fi, err := os.Stat(filepath.Dir(sa))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// A socket directory others may enter, or that is not a directory, is
// refused with what to do.
func TestSocketPathRefusesUnsafeDirectory(t *testing.T) {
	dir := socketDir(t)
	env := dir
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // past the umask
		t.Fatal(err)
	}
	_, err := SocketPath("x.db", env)
	if err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("open directory: %v", err)
	}
	os.Remove(dir)
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SocketPath("x.db", env); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file in the directory's place: %v", err)
	}
}

// A stale socket (its owner killed) is replaced; a live one is not.
func TestListenReplacesStaleSocket(t *testing.T) {
	sock, err := SocketPath(filepath.Join(t.TempDir(), "s.db"), socketDir(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if !Live(sock) {
		t.Fatal("a listening socket does not answer")
	}
	if _, err := Listen(sock); !errors.Is(err, ErrOwnerRunning) {
		t.Errorf("second Listen beside a live owner: %v, want ErrOwnerRunning", err)
	}
	// What a SIGKILL leaves: the file without a listener.
	ln.(*peerListener).Listener.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the stale socket file is gone already: %v", err)
	}
	if Live(sock) {
		t.Fatal("a closed socket answers")
	}
	ln2, err := Listen(sock)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln2.Close()
	go func() {
		if c, err := ln2.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := Dial(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if pid := PeerPID(sock); pid != os.Getpid() && pid != 0 {
		t.Errorf("PeerPID = %d, want this process's %d", pid, os.Getpid())
	}
}
