package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Own is a PostgreSQL server of one test's own, started from the installed
// binaries in a temporary directory: a test may stop and start it (the
// shared server must never be restarted).
type Own struct {
	t     testing.TB
	pgCtl []string // pg_ctl, as the postgres user when running as root
	data  string
	opts  string
	logf  string
	// DSN reaches the server.
	DSN string
}

// StartOwn starts a server for t, stopped and removed when t ends. Without
// installed binaries t is skipped (failed under CI=true).
func StartOwn(t testing.TB) *Own {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL binaries for a server of the test's own (CI=true: not skipped): %v", err)
		}
		t.Skipf("no PostgreSQL binaries for a server of the test's own: %v", err)
	}
	dir, err := os.MkdirTemp("", "mcp-sync-pgown-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var asUser []string
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s: %v: %s", dir, err, out)
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	o := &Own{t: t, data: filepath.Join(dir, "data"), logf: filepath.Join(dir, "log"),
		pgCtl: append(append([]string{}, asUser...), filepath.Join(bin, "pg_ctl")),
		opts:  fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", port, dir),
		DSN:   "postgres://postgres@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable"}
	initdb := append(append([]string{}, asUser...), filepath.Join(bin, "initdb"), "-D", o.data, "--auth=trust", "-U", "postgres")
	if out, err := exec.Command(initdb[0], initdb[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	o.Start()
	t.Cleanup(func() { o.run("-m", "immediate", "stop") })
	return o
}

func (o *Own) run(args ...string) error {
	full := append(append(append([]string{}, o.pgCtl...), "-D", o.data), args...)
	out, err := exec.Command(full[0], full[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %w: %s", args, err, out)
	}
	return nil
}

// Start starts the server and waits until it accepts connections.
func (o *Own) Start() {
	o.t.Helper()
	if err := o.run("-o", o.opts, "-w", "-l", o.logf, "start"); err != nil {
		o.t.Fatal(err)
	}
}

// Stop stops the server ("fast": open connections are cut).
func (o *Own) Stop() {
	o.t.Helper()
	if err := o.run("-m", "fast", "-w", "stop"); err != nil {
		o.t.Fatal(err)
	}
}
