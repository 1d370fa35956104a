package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/storagetest"
)

// childOpenEnv makes the test binary, re-executed by
// TestSecondOpenOtherProcessLocked, open the named file and report.
const childOpenEnv = "STORAGE_TEST_CHILD_OPEN"

func TestMain(m *testing.M) {
	if path := os.Getenv(childWriteEnv); path != "" {
		childWrite(path) // never returns: killed by its parent
	}
	if path := os.Getenv(childOpenEnv); path != "" {
		s, err := OpenStore(path, Options{Tables: []string{"a"}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		_ = s.Close()
		fmt.Fprintln(os.Stderr, "child: opened", path)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var testTables = []string{"a", "b"}

// openAt opens path with testTables unless opts names tables, and closes the
// store when the test ends.
func openAt(t testing.TB, path string, opts Options) *storage.Store {
	t.Helper()
	s, _ := openDriver(t, path, opts, storage.Options{})
	return s
}

// openDriver is openAt for a test that looks inside the driver too.
func openDriver(t testing.TB, path string, opts Options, so storage.Options) (*storage.Store, *Driver) {
	t.Helper()
	if opts.Tables == nil {
		opts.Tables = testTables
	}
	d, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	s := storage.New(d, so)
	t.Cleanup(func() { _ = s.Close() })
	return s, d
}

// TestDriverSuite: the bbolt driver passes the suite every driver must.
func TestDriverSuite(t *testing.T) { runSuite(t, 0) }

// TestDriverSuiteSmallLogWindows: the suite again, with ReadLog rebuilding
// values in windows of 3 changes, so that every read of more than a few
// versions crosses windows.
func TestDriverSuiteSmallLogWindows(t *testing.T) { runSuite(t, 3) }

func runSuite(t *testing.T, logWindow int) {
	dir := t.TempDir()
	storagetest.Run(t, storagetest.Driver{
		Durable: true,
		Open: func(t testing.TB, name string, o storagetest.Options) *storage.Store {
			s, _ := openDriver(t, filepath.Join(dir, name+".db"),
				Options{Tables: o.Tables, LogRetention: o.LogRetention, AuditRetention: o.AuditRetention, NoSync: o.Fast, logWindow: logWindow},
				storage.Options{SubscriberBuffer: o.SubscriberBuffer})
			return s
		},
	})
}

// TestOpenMakesDirectory: Open creates the file's directory, and Path names
// the file.
func TestOpenMakesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "data.db")
	s := openAt(t, path, Options{})
	if s.Path() != path {
		t.Fatalf("Path = %q, want %q", s.Path(), path)
	}
	put(t, s, "a", "k", "v")
}

func openTemp(t testing.TB, opts Options) *storage.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "data.db"), opts)
}

// The suite's helpers, by their short names.
func mustUpdate(t testing.TB, s *storage.Store, fn func(*storage.WriteTx) error) uint64 {
	t.Helper()
	return storagetest.MustUpdate(t, s, fn)
}

func put(t testing.TB, s *storage.Store, table, key, value string) uint64 {
	t.Helper()
	return storagetest.Put(t, s, table, key, value)
}

func rows(t testing.TB, s *storage.Store, table string) map[string]string {
	t.Helper()
	return storagetest.Rows(t, s, table)
}

func equalRows(t testing.TB, got, want map[string]string) {
	t.Helper()
	storagetest.EqualRows(t, got, want)
}

func blockLoop(t *testing.T, s *storage.Store) (release func() uint64) {
	t.Helper()
	return storagetest.BlockLoop(t, s)
}

func TestSecondOpenInProcessLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s := openAt(t, path, Options{})
	put(t, s, "a", "k", "v")

	start := time.Now()
	s2, err := OpenStore(path, Options{Tables: testTables, LockTimeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		_ = s2.Close()
		t.Fatal("second Open of a held file succeeded")
	}
	if !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second Open = %v, want storage.ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q does not name %s", err, path)
	}
	if elapsed < 100*time.Millisecond || elapsed > 20*time.Second {
		t.Fatalf("second Open gave up after %v, want about the 200ms LockTimeout (20 s allowed on a loaded machine)", elapsed)
	}
	equalRows(t, rows(t, s, "a"), map[string]string{"k": "v"})
}

func TestSecondOpenOtherProcessLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process that waits out the default 2s lock timeout")
	}
	path := filepath.Join(t.TempDir(), "data.db")
	s := openAt(t, path, Options{})
	put(t, s, "a", "k", "v")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childOpenEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("child = %v (stderr %q), want exit status 3", err, stderr.String())
	}
	// The child waits out the 2 s lock timeout after starting a -race
	// binary, which a loaded machine can stretch to seconds more: the
	// bound tells giving up from waiting for the lock forever.
	if elapsed > 30*time.Second {
		t.Fatalf("child took %v to give up, want about the 2 s lock timeout (30 s allowed on a loaded machine)", elapsed)
	}
	msg := stderr.String()
	for _, want := range []string{path, "in use by another process", "stop the other mcp-sync", "--data"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("child stderr %q lacks %q", msg, want)
		}
	}
	// The holder's data is unharmed and it keeps writing.
	equalRows(t, rows(t, s, "a"), map[string]string{"k": "v"})
	v := put(t, s, "a", "k2", "v2")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{})
	if s.Version() != v {
		t.Fatalf("Version after reopen = %d, want %d", s.Version(), v)
	}
	equalRows(t, rows(t, s, "a"), map[string]string{"k": "v", "k2": "v2"})
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := OpenStore(path, Options{SchemaVersion: 2, Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "a", "k", "v")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenStore(path, Options{SchemaVersion: 1, Tables: testTables})
	if err == nil {
		_ = s.Close()
		t.Fatal("Open with an older schema succeeded")
	}
	if !errors.Is(err, storage.ErrSchemaTooNew) {
		t.Fatalf("Open with schema 1 = %v, want storage.ErrSchemaTooNew", err)
	}
	for _, want := range []string{path, "schema version 2", "declares version 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q lacks %q", err, want)
		}
	}
	// The refused Open released the file and left it as it was.
	for range 2 {
		s, err = OpenStore(path, Options{SchemaVersion: 3, Tables: testTables, LockTimeout: time.Second})
		if err != nil {
			t.Fatalf("Open with schema 3: %v", err)
		}
		equalRows(t, rows(t, s, "a"), map[string]string{"k": "v"})
		if s.Version() != 1 {
			t.Fatalf("Version = %d, want 1", s.Version())
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Now upgraded: 2 is too old as well.
	if s, err = OpenStore(path, Options{SchemaVersion: 2, Tables: testTables}); !errors.Is(err, storage.ErrSchemaTooNew) {
		if err == nil {
			_ = s.Close()
		}
		t.Fatalf("Open with schema 2 after upgrade to 3 = %v, want storage.ErrSchemaTooNew", err)
	}
}

// TestCloseCommitsQueuedWrites: writers queued behind a running commit when
// Close is called are committed before Close returns, and the file holds
// them after a reopen.
func TestCloseCommitsQueuedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s, d := openDriver(t, path, Options{Tables: testTables}, storage.Options{})
	release := blockLoop(t, s)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
				return w.Put("a", fmt.Sprint("q", i), []byte("1"))
			})
			errs <- err
		}()
	}
	// Wait until all n are queued behind the blocked commit.
	for deadline := time.Now().Add(10 * time.Second); ; {
		queued := d.commits.Queued()
		if queued == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writers queued, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("queued Update: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{Tables: testTables})
	if got := len(rows(t, s, "a")); got != n {
		t.Fatalf("%d rows after reopen, want %d", got, n)
	}
	if s.Version() != n+1 {
		t.Fatalf("version %d after reopen, want %d", s.Version(), n+1)
	}
}

// subscribe subscribes to f from version from, closing the subscription
// when the test ends.
func subscribe(t testing.TB, s *storage.Store, f storage.Filter, from uint64) *storage.Subscription {
	t.Helper()
	sub, err := s.Subscribe(f, from)
	if err != nil {
		t.Fatalf("Subscribe(%+v, %d): %v", f, from, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// next returns the subscription's next event, failing the test if none comes
// within a generous bound (a hang, not a speed check).
func next(t testing.TB, sub *storage.Subscription) storage.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next: no event within 30 s: %v", err)
	}
	return ev
}
