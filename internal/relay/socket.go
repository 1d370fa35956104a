// Package relay lets several stdio servers share one data file: the process
// that owns the file listens on a private Unix socket named after it, and
// later ones relay their host's session to that socket as bytes, taking the
// file over when its owner goes away.
//
// The package knows sockets and JSON-RPC lines, nothing of the engine: the
// caller says how to become the owner ([Config.TakeOver]).
package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrOwnerRunning is returned by [Listen] when a live owner answers on the
// socket already.
var ErrOwnerRunning = errors.New("another process owns the data file and answers on its socket")

// SocketPath is the socket of the data file at dataPath: in dir, or by
// default in /tmp/mcp-sync-UID, a directory only this user may enter, named
// by a hash of the file's real path, so that two names of one file meet and
// two files never do. The default depends on nothing in the environment:
// hosts start servers with environments of their own (the TypeScript SDK
// passes only a few variables), and every process on a file must find the
// same socket. It makes the directory, and refuses one that is not this
// user's or that others may enter.
func SocketPath(dataPath, dir string) (string, error) {
	real, err := realPath(dataPath)
	if err != nil {
		return "", err
	}
	uid := os.Getuid()
	if dir == "" {
		dir = filepath.Join("/tmp", fmt.Sprintf("mcp-sync-%d", uid))
	}
	if err := privateDir(dir, uid); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(real))
	return filepath.Join(dir, hex.EncodeToString(sum[:12])+".sock"), nil
}

// realPath is path made absolute with its symbolic links resolved; a file
// not made yet is named by its directory's real path.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving the data file's path: %w", err)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", fmt.Errorf("resolving the data file's directory: %w", err)
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}

// privateDir makes dir (mode 0700) or checks the one there: a directory,
// not a link, owned by uid, closed to others.
func privateDir(dir string, uid int) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("making the socket directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking the socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("the socket directory %s is not a directory: remove it", dir)
	case ok && int(st.Uid) != uid:
		return fmt.Errorf("the socket directory %s belongs to another user: remove it (as that user or root)", dir)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("the socket directory %s is open to other users (mode %v): run chmod 700 on it", dir, fi.Mode().Perm())
	}
	return nil
}

// Listen listens on the socket at path for the data file's owner, who must
// hold the file's lock already: a socket left there is then a dead owner's
// and is replaced, unless a live one answers on it (ErrOwnerRunning). Only
// this user may connect (file mode 0600, the peer's uid checked on accept).
func Listen(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err != nil && errors.Is(err, syscall.EADDRINUSE) {
		if Live(path) {
			return nil, ErrOwnerRunning
		}
		if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, rmErr)
		}
		ln, err = net.Listen("unix", path)
	}
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("making %s private: %w", path, err)
	}
	return &peerListener{Listener: ln, uid: os.Getuid()}, nil
}

// Live says whether an owner answers on the socket at path.
func Live(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// PeerPID is the pid of the owner answering on the socket at path, for
// logs; 0 when none answers or the system does not say.
func PeerPID(path string) int {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	_, pid, _ := peerCred(c)
	return pid
}

// Dial connects to the owner on the socket at path.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connecting to the data file's owner: %w", err)
	}
	return c, nil
}

// peerListener accepts only connections from processes of uid.
type peerListener struct {
	net.Listener
	uid int
}

// Accept returns the next connection whose peer runs as the listener's
// user; others are closed unanswered.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if uid, _, err := peerCred(c); err == nil && uid == l.uid {
			return c, nil
		}
		c.Close()
	}
}
