package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// childOpenEnv makes the test binary, re-executed by
// TestSecondOpenOtherProcessLocked, open the named file and report.
const childOpenEnv = "STORAGE_TEST_CHILD_OPEN"

func TestMain(m *testing.M) {
	if path := os.Getenv(childWriteEnv); path != "" {
		childWrite(path) // never returns: killed by its parent
	}
	if path := os.Getenv(childOpenEnv); path != "" {
		s, err := Open(path, Options{Tables: []string{"a"}})
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
func openAt(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if opts.Tables == nil {
		opts.Tables = testTables
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openTemp(t testing.TB, opts Options) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "data.db"), opts)
}

func mustUpdate(t testing.TB, s *Store, fn func(*WriteTx) error) uint64 {
	t.Helper()
	v, err := s.Update(context.Background(), fn)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return v
}

func put(t testing.TB, s *Store, table, key, value string) uint64 {
	t.Helper()
	return mustUpdate(t, s, func(w *WriteTx) error { return w.Put(table, key, []byte(value)) })
}

// rows returns every row of table as key → value.
func rows(t testing.TB, s *Store, table string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.View(func(tx *ReadTx) error {
		after := ""
		for {
			kvs, next, err := tx.Scan(table, ScanOptions{After: after, Limit: MaxScanLimit})
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				out[kv.Key] = string(kv.Value)
			}
			if next == "" {
				return nil
			}
			after = next
		}
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return out
}

func equalRows(t testing.TB, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("rows = %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("rows = %v, want %v", got, want)
		}
	}
}

func TestUpdateErrorLeavesNothing(t *testing.T) {
	s := openTemp(t, Options{})
	put(t, s, "a", "kept", "old")
	put(t, s, "a", "gone", "still here")
	before := s.Version()

	boom := errors.New("boom")
	v, err := s.Update(context.Background(), func(w *WriteTx) error {
		if err := w.Put("a", "new1", []byte("x")); err != nil {
			return err
		}
		if err := w.Put("b", "new2", []byte("y")); err != nil {
			return err
		}
		if err := w.Put("a", "kept", []byte("overwritten")); err != nil {
			return err
		}
		if err := w.Delete("a", "gone"); err != nil {
			return err
		}
		// The function sees its own writes before it fails.
		if _, ok, _ := w.Get("a", "new1"); !ok {
			return errors.New("own write not visible")
		}
		return boom
	})
	if !errors.Is(err, boom) || v != 0 {
		t.Fatalf("Update = %d, %v; want 0, boom", v, err)
	}
	if got := s.Version(); got != before {
		t.Fatalf("Version = %d after failed Update, want %d", got, before)
	}
	equalRows(t, rows(t, s, "a"), map[string]string{"kept": "old", "gone": "still here"})
	equalRows(t, rows(t, s, "b"), map[string]string{})
	evs, err := s.ChangesSince(before, Filter{Table: "a"}, 0)
	if err != nil || len(evs) != 0 {
		t.Fatalf("ChangesSince(%d) = %v, %v; want no events", before, evs, err)
	}
	// The store still commits afterwards, with the next version.
	if v := put(t, s, "a", "after", "1"); v != before+1 {
		t.Fatalf("next Update version = %d, want %d", v, before+1)
	}
}

func TestUpdatePanicLeavesNothing(t *testing.T) {
	s := openTemp(t, Options{})
	put(t, s, "a", "kept", "old")
	before := s.Version()

	v, err := s.Update(context.Background(), func(w *WriteTx) error {
		_ = w.Put("a", "p1", []byte("x"))
		_ = w.Put("a", "kept", []byte("overwritten"))
		_ = w.Put("b", "p2", []byte("y"))
		panic("kaboom")
	})
	if err == nil || v != 0 {
		t.Fatalf("Update with panicking fn = %d, %v; want 0 and an error", v, err)
	}
	if !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("error %q should say the function panicked with kaboom", err)
	}
	if got := s.Version(); got != before {
		t.Fatalf("Version = %d, want %d", got, before)
	}
	equalRows(t, rows(t, s, "a"), map[string]string{"kept": "old"})
	equalRows(t, rows(t, s, "b"), map[string]string{})
	// The commit loop survived.
	if v := put(t, s, "b", "after", "1"); v != before+1 {
		t.Fatalf("Update after panic = version %d, want %d", v, before+1)
	}
}

// blockLoop runs an Update whose function waits for release, so that
// Updates started meanwhile queue up and share the next commit. It returns
// once the function is running; release with the returned func, which waits
// for that Update and returns its version.
func blockLoop(t *testing.T, s *Store) (release func() uint64) {
	t.Helper()
	running, unblock := make(chan struct{}), make(chan struct{})
	type res struct {
		v   uint64
		err error
	}
	done := make(chan res, 1)
	go func() {
		v, err := s.Update(context.Background(), func(w *WriteTx) error {
			close(running)
			<-unblock
			return w.Put("b", "blocker", []byte("1"))
		})
		done <- res{v, err}
	}()
	<-running
	return func() uint64 {
		close(unblock)
		r := <-done
		if r.err != nil {
			t.Errorf("blocking Update: %v", r.err)
		}
		return r.v
	}
}

func TestGroupCommitFailuresIsolated(t *testing.T) {
	s := openTemp(t, Options{})
	base := s.Version()
	const n = 16
	type result struct {
		v   uint64
		err error
	}
	results := make([]result, n)
	var wg, started sync.WaitGroup
	release := blockLoop(t, s)
	fail := errors.New("odd writer fails")
	for g := range n {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			v, err := s.Update(context.Background(), func(w *WriteTx) error {
				// The first write is a kept Try step: a failing writer's
				// rollback must undo it too.
				if err := w.Try(func(st *WriteTx) error {
					return st.Put("a", fmt.Sprintf("g%02d-0", g), []byte(fmt.Sprint(g)))
				}); err != nil {
					return err
				}
				if err := w.Put("a", fmt.Sprintf("g%02d-1", g), []byte(fmt.Sprint(g))); err != nil {
					return err
				}
				if g%2 == 1 {
					return fail
				}
				return nil
			})
			results[g] = result{v, err}
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // let the writers queue behind the blocker: not asserted
	blockerV := release()
	wg.Wait()

	want := map[string]string{}
	versions := map[uint64]int{blockerV: -1}
	for g, r := range results {
		if g%2 == 1 {
			if !errors.Is(r.err, fail) || r.v != 0 {
				t.Errorf("writer %d = %d, %v; want 0, its error", g, r.v, r.err)
			}
			continue
		}
		if r.err != nil {
			t.Fatalf("writer %d: %v", g, r.err)
		}
		if other, dup := versions[r.v]; dup {
			t.Fatalf("writers %d and %d both got version %d", g, other, r.v)
		}
		versions[r.v] = g
		for i := range 2 {
			want[fmt.Sprintf("g%02d-%d", g, i)] = fmt.Sprint(g)
		}
		// Its own changes, and only those, are logged under its version.
		evs, err := s.ChangesSince(r.v-1, Filter{Table: "a"}, 1)
		if err != nil || len(evs) != 1 || evs[0].Version != r.v {
			t.Fatalf("ChangesSince(%d) = %+v, %v; want the event of version %d", r.v-1, evs, err, r.v)
		}
		wantCh := []Change{
			{Table: "a", Key: fmt.Sprintf("g%02d-0", g), Op: OpPut, Value: []byte(fmt.Sprint(g))},
			{Table: "a", Key: fmt.Sprintf("g%02d-1", g), Op: OpPut, Value: []byte(fmt.Sprint(g))},
		}
		if !changesEqual(evs[0].Changes, wantCh) {
			t.Fatalf("version %d changes = %+v, want %+v", r.v, evs[0].Changes, wantCh)
		}
	}
	equalRows(t, rows(t, s, "a"), want)
	// Failed writers take no version: the successful ones are exactly the
	// next n/2+1 versions.
	for v := base + 1; v <= base+n/2+1; v++ {
		if _, ok := versions[v]; !ok {
			t.Fatalf("version %d unused; versions = %v", v, versions)
		}
	}
	if got := s.Version(); got != base+n/2+1 {
		t.Fatalf("Version = %d, want %d", got, base+n/2+1)
	}
}

func changesEqual(a, b []Change) bool {
	return slices.EqualFunc(a, b, func(x, y Change) bool {
		return x.Table == y.Table && x.Key == y.Key && x.Op == y.Op &&
			bytes.Equal(x.Value, y.Value) && (x.Value == nil) == (y.Value == nil)
	})
}

func TestVersionsStrictlyIncrease(t *testing.T) {
	s := openTemp(t, Options{})
	start := put(t, s, "b", "seed", "1")
	const writers, per = 16, 50
	got := make([][]uint64, writers)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				v, err := s.Update(context.Background(), func(w *WriteTx) error {
					return w.Put("a", fmt.Sprintf("w%02d-%03d", g, i), []byte("v"))
				})
				if err != nil {
					t.Errorf("writer %d Update %d: %v", g, i, err)
					return
				}
				got[g] = append(got[g], v)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[uint64]bool{}
	for g, vs := range got {
		for i, v := range vs {
			if i > 0 && v <= vs[i-1] {
				t.Fatalf("writer %d: version %d after %d", g, v, vs[i-1])
			}
			if seen[v] {
				t.Fatalf("version %d returned twice", v)
			}
			seen[v] = true
		}
	}
	for v := start + 1; v <= start+writers*per; v++ {
		if !seen[v] {
			t.Fatalf("version %d never returned", v)
		}
	}
	if len(seen) != writers*per {
		t.Fatalf("%d versions returned, want %d", len(seen), writers*per)
	}
	if s.Version() != start+writers*per {
		t.Fatalf("Version = %d, want %d", s.Version(), start+writers*per)
	}
	if err := s.View(func(tx *ReadTx) error {
		if tx.Version() != start+writers*per {
			return fmt.Errorf("snapshot version %d, want %d", tx.Version(), start+writers*per)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(rows(t, s, "a")); n != writers*per {
		t.Fatalf("%d rows, want %d", n, writers*per)
	}
}

func TestReopenKeepsRowsVersionAndLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "data.db")
	s, err := Open(path, Options{Tables: testTables, LogRetention: 20})
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != path {
		t.Fatalf("Path = %q, want %q", s.Path(), path)
	}
	for i := range 30 {
		put(t, s, "a", fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	mustUpdate(t, s, func(w *WriteTx) error { return w.Delete("a", "k00") })
	put(t, s, "b", "x", "y")
	wantRowsA, wantRowsB := rows(t, s, "a"), rows(t, s, "b")
	wantV := s.Version()
	wantLog, err := s.ChangesSince(wantV-20, Filter{Table: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, Options{LogRetention: 20})
	if s.Version() != wantV {
		t.Fatalf("Version after reopen = %d, want %d", s.Version(), wantV)
	}
	equalRows(t, rows(t, s, "a"), wantRowsA)
	equalRows(t, rows(t, s, "b"), wantRowsB)
	gotLog, err := s.ChangesSince(wantV-20, Filter{Table: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotLog) != len(wantLog) || len(gotLog) != 19 {
		t.Fatalf("log after reopen has %d events, before %d, want 19", len(gotLog), len(wantLog))
	}
	for i := range gotLog {
		if gotLog[i].Version != wantLog[i].Version || !changesEqual(gotLog[i].Changes, wantLog[i].Changes) {
			t.Fatalf("log event %d = %+v, want %+v", i, gotLog[i], wantLog[i])
		}
	}
	// The trimmed floor survives too.
	if _, err := s.ChangesSince(wantV-21, Filter{Table: "a"}, 0); !errors.Is(err, ErrResync) {
		t.Fatalf("ChangesSince below the floor after reopen = %v, want ErrResync", err)
	}
	if v := put(t, s, "a", "more", "1"); v != wantV+1 {
		t.Fatalf("first Update after reopen = version %d, want %d", v, wantV+1)
	}
}

func TestClosedStore(t *testing.T) {
	s := openTemp(t, Options{})
	put(t, s, "a", "k", "v")
	sub, err := s.Subscribe(Filter{Table: "a"}, s.Version())
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := sub.Next(context.Background())
		waiting <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-waiting:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("waiting Next after store Close = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting Next did not return after store Close")
	}
	if _, err := sub.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after store Close = %v, want ErrClosed", err)
	}
	called := false
	if _, err := s.Update(context.Background(), func(w *WriteTx) error { called = true; return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after Close = %v, want ErrClosed", err)
	}
	if called {
		t.Fatal("Update ran its function after Close")
	}
	if err := s.View(func(*ReadTx) error { called = true; return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("View after Close = %v, want ErrClosed", err)
	}
	if called {
		t.Fatal("View ran its function after Close")
	}
	if _, err := s.Subscribe(Filter{Table: "a"}, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if _, err := s.ChangesSince(0, Filter{Table: "a"}, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("ChangesSince after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	sub.Close() // closing a subscription of a closed store is harmless
}

func TestSecondOpenInProcessLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s := openAt(t, path, Options{})
	put(t, s, "a", "k", "v")

	start := time.Now()
	s2, err := Open(path, Options{Tables: testTables, LockTimeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		_ = s2.Close()
		t.Fatal("second Open of a held file succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
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
	s, err := Open(path, Options{SchemaVersion: 2, Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "a", "k", "v")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, Options{SchemaVersion: 1, Tables: testTables})
	if err == nil {
		_ = s.Close()
		t.Fatal("Open with an older schema succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open with schema 1 = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{path, "schema version 2", "declares version 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q lacks %q", err, want)
		}
	}
	// The refused Open released the file and left it as it was.
	for range 2 {
		s, err = Open(path, Options{SchemaVersion: 3, Tables: testTables, LockTimeout: time.Second})
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
	if s, err = Open(path, Options{SchemaVersion: 2, Tables: testTables}); !errors.Is(err, ErrSchemaTooNew) {
		if err == nil {
			_ = s.Close()
		}
		t.Fatalf("Open with schema 2 after upgrade to 3 = %v, want ErrSchemaTooNew", err)
	}
}

// scanAll pages through table with o (After ignored) and returns the keys.
func scanAll(t *testing.T, s *Store, table string, o ScanOptions) []string {
	t.Helper()
	var keys []string
	err := s.View(func(tx *ReadTx) error {
		o.After = ""
		for pages := 0; ; pages++ {
			if pages > 10000 {
				return errors.New("paging does not end")
			}
			kvs, next, err := tx.Scan(table, o)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				keys = append(keys, kv.Key)
				if string(kv.Value) != "v"+kv.Key {
					return fmt.Errorf("key %q has value %q", kv.Key, kv.Value)
				}
			}
			if next == "" {
				return nil
			}
			if len(kvs) == 0 || next != kvs[len(kvs)-1].Key {
				return fmt.Errorf("page of %d rows with cursor %q", len(kvs), next)
			}
			o.After = next
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// expectScan is what one Scan page should return, computed from the sorted key
// list.
func expectScan(sorted []string, o ScanOptions) []string {
	var out []string
	limit := o.Limit
	if limit <= 0 {
		limit = DefaultScanLimit
	}
	limit = min(limit, MaxScanLimit)
	keys := slices.Clone(sorted)
	if o.Reverse {
		slices.Reverse(keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, o.Prefix) {
			continue
		}
		if o.After != "" && (!o.Reverse && k <= o.After || o.Reverse && k >= o.After) {
			continue
		}
		out = append(out, k)
	}
	return out[:min(len(out), limit)]
}

func TestScanPaging(t *testing.T) {
	s := openTemp(t, Options{NoSync: true})
	var keys []string
	mustUpdate(t, s, func(w *WriteTx) error {
		for i := range 250 {
			k := fmt.Sprintf("k%03d", i)
			keys = append(keys, k)
			if err := w.Put("a", k, []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	reversed := slices.Clone(keys)
	slices.Reverse(reversed)

	for _, reverse := range []bool{false, true} {
		err := s.View(func(tx *ReadTx) error {
			want := keys
			if reverse {
				want = reversed
			}
			var got []string
			after := ""
			for page := 0; ; page++ {
				kvs, next, err := tx.Scan("a", ScanOptions{Limit: 100, After: after, Reverse: reverse})
				if err != nil {
					return err
				}
				wantLen := []int{100, 100, 50}[page]
				if len(kvs) != wantLen {
					return fmt.Errorf("reverse=%v page %d has %d rows, want %d", reverse, page, len(kvs), wantLen)
				}
				for _, kv := range kvs {
					got = append(got, kv.Key)
				}
				if page == 2 {
					if next != "" {
						return fmt.Errorf("last page cursor %q, want empty", next)
					}
					break
				}
				if next != kvs[len(kvs)-1].Key {
					return fmt.Errorf("cursor %q, want last key %q", next, kvs[len(kvs)-1].Key)
				}
				after = next
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("reverse=%v visited %v, want %v", reverse, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanPrefixAndCursorEdges(t *testing.T) {
	s := openTemp(t, Options{NoSync: true})
	keys := []string{
		"\x00", "a", "p", "p\x00", "p\x01", "pa", "pz", "p\xfe", "p\xfe\xff", "p\xff", "p\xff\x00",
		"p\xffz", "p\xff\xff", "p\xff\xff\xff", "q", "q\x00", "\xfe", "\xfe\xff", "\xff", "\xff\x00",
		"\xff\xfe", "\xff\xff", "\xff\xff\x00", "\xff\xffa", "\xff\xff\xff", "\xff\xff\xff\xff",
	}
	mustUpdate(t, s, func(w *WriteTx) error {
		for _, k := range keys {
			if err := w.Put("a", k, []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	sort.Strings(keys)
	prefixes := []string{"", "p", "p\xff", "p\xff\xff", "p\xfe", "\xff", "\xff\xff", "\xff\xff\xff", "\xff\xff\xff\xff\xff", "o", "zz", "\x00"}
	afters := []string{"", "\x00", "a", "o", "p", "p\x00", "p\xff", "p\xff\x01", "p\xff\xff\xff\xff", "pzz", "q", "\xff", "\xff\xff", "\xff\xff\xff\xff\xff"}
	for _, prefix := range prefixes {
		for _, reverse := range []bool{false, true} {
			// Paging from the start visits every matching key once, in order,
			// whatever the page size.
			want := expectScan(keys, ScanOptions{Prefix: prefix, Reverse: reverse, Limit: MaxScanLimit})
			for _, limit := range []int{1, 2, 3, 100} {
				got := scanAll(t, s, "a", ScanOptions{Prefix: prefix, Reverse: reverse, Limit: limit})
				if !slices.Equal(got, want) {
					t.Fatalf("prefix %q reverse=%v limit %d: paged %q, want %q", prefix, reverse, limit, got, want)
				}
			}
			// One page from an arbitrary cursor.
			for _, after := range afters {
				o := ScanOptions{Prefix: prefix, After: after, Reverse: reverse, Limit: 3}
				var got []string
				if err := s.View(func(tx *ReadTx) error {
					kvs, _, err := tx.Scan("a", o)
					for _, kv := range kvs {
						got = append(got, kv.Key)
					}
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if want := expectScan(keys, o); !slices.Equal(got, want) {
					t.Fatalf("Scan(prefix %q after %q reverse=%v limit %d) = %q, want %q", o.Prefix, o.After, o.Reverse, o.Limit, got, want)
				}
			}
		}
	}
}

func TestScanLimits(t *testing.T) {
	s := openTemp(t, Options{NoSync: true})
	mustUpdate(t, s, func(w *WriteTx) error {
		for i := range 1200 {
			k := fmt.Sprintf("k%04d", i)
			if err := w.Put("a", k, []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		limit, want int
		next        string
	}{
		{0, 100, "k0099"},
		{-5, 100, "k0099"},
		{1000, 1000, "k0999"},
		{1001, 1000, "k0999"},
		{5000, 1000, "k0999"},
	}
	for _, c := range cases {
		err := s.View(func(tx *ReadTx) error {
			kvs, next, err := tx.Scan("a", ScanOptions{Limit: c.limit})
			if err != nil {
				return err
			}
			if len(kvs) != c.want || next != c.next {
				return fmt.Errorf("Limit %d: %d rows, cursor %q; want %d, %q", c.limit, len(kvs), next, c.want, c.next)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Exactly a page's worth left: the last page says so with an empty cursor.
	if err := s.View(func(tx *ReadTx) error {
		kvs, next, err := tx.Scan("a", ScanOptions{After: "k0999", Limit: 200})
		if err != nil || len(kvs) != 200 || next != "" {
			return fmt.Errorf("last full page: %d rows, cursor %q, %v; want 200, \"\"", len(kvs), next, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownTable(t *testing.T) {
	s := openTemp(t, Options{})
	put(t, s, "a", "k", "v")
	before := s.Version()

	err := s.View(func(tx *ReadTx) error {
		if _, _, err := tx.Get("nope", "k"); !errors.Is(err, ErrNoTable) {
			return fmt.Errorf("Get = %v, want ErrNoTable", err)
		}
		if _, _, err := tx.Scan("nope", ScanOptions{}); !errors.Is(err, ErrNoTable) {
			return fmt.Errorf("Scan = %v, want ErrNoTable", err)
		}
		// Only declared tables: the store's own buckets are not tables.
		for _, internal := range []string{"meta", "log", "t/a"} {
			if _, _, err := tx.Get(internal, "version"); !errors.Is(err, ErrNoTable) {
				return fmt.Errorf("Get(%q) = %v, want ErrNoTable", internal, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   func(*WriteTx) error
	}{
		{"Put", func(w *WriteTx) error { return w.Put("nope", "k", []byte("v")) }},
		{"Delete", func(w *WriteTx) error { return w.Delete("nope", "k") }},
		{"Put after a good Put", func(w *WriteTx) error {
			if err := w.Put("a", "good", []byte("v")); err != nil {
				return err
			}
			return w.Put("nope", "k", []byte("v"))
		}},
	} {
		if _, err := s.Update(context.Background(), tc.fn); !errors.Is(err, ErrNoTable) {
			t.Fatalf("%s: Update = %v, want ErrNoTable", tc.name, err)
		}
	}
	if s.Version() != before {
		t.Fatalf("Version = %d, want %d", s.Version(), before)
	}
	equalRows(t, rows(t, s, "a"), map[string]string{"k": "v"})

	if _, err := s.Subscribe(Filter{Table: "nope"}, 0); !errors.Is(err, ErrNoTable) {
		t.Fatalf("Subscribe = %v, want ErrNoTable", err)
	}
	if _, err := s.ChangesSince(0, Filter{Table: "nope"}, 0); !errors.Is(err, ErrNoTable) {
		t.Fatalf("ChangesSince = %v, want ErrNoTable", err)
	}
	if _, err := s.Subscribe(Filter{}, 0); err == nil {
		t.Fatal("Subscribe with no table succeeded")
	}
	if _, err := s.ChangesSince(0, Filter{Key: "k"}, 0); err == nil {
		t.Fatal("ChangesSince with no table succeeded")
	}
}

func TestBadKeys(t *testing.T) {
	s := openTemp(t, Options{})
	put(t, s, "a", "k", "v")
	before := s.Version()
	big := strings.Repeat("x", 32768+1)
	for _, tc := range []struct {
		name string
		fn   func(*WriteTx) error
	}{
		{"empty key Put", func(w *WriteTx) error { return w.Put("a", "", []byte("v")) }},
		{"empty key Delete", func(w *WriteTx) error { return w.Delete("a", "") }},
		{"oversize key Put", func(w *WriteTx) error { return w.Put("a", big, []byte("v")) }},
		{"oversize key Delete", func(w *WriteTx) error { return w.Delete("a", big) }},
	} {
		var putErr error
		_, err := s.Update(context.Background(), func(w *WriteTx) error {
			putErr = tc.fn(w)
			return putErr
		})
		if putErr == nil || err == nil {
			t.Fatalf("%s: accepted (write error %v, Update error %v)", tc.name, putErr, err)
		}
	}
	// A function that ignores the error commits without the bad row.
	v := mustUpdate(t, s, func(w *WriteTx) error {
		if err := w.Put("a", big, []byte("v")); err == nil {
			return errors.New("oversize key accepted")
		}
		return nil
	})
	if v != before+1 {
		t.Fatalf("version %d, want %d", v, before+1)
	}
	equalRows(t, rows(t, s, "a"), map[string]string{"k": "v"})
	// The largest key bbolt takes is accepted.
	maxKey := strings.Repeat("m", 32768)
	put(t, s, "a", maxKey, "max")
	if got := rows(t, s, "a")[maxKey]; got != "max" {
		t.Fatalf("max-size key reads back %q", got)
	}
}

func TestCancelledContext(t *testing.T) {
	s := openTemp(t, Options{})
	put(t, s, "a", "k", "v")
	before := s.Version()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	v, err := s.Update(ctx, func(w *WriteTx) error {
		called = true
		return w.Put("a", "x", []byte("y"))
	})
	if !errors.Is(err, context.Canceled) || v != 0 || called {
		t.Fatalf("Update with cancelled ctx = %d, %v (fn called %v); want 0, context.Canceled, not called", v, err, called)
	}

	// Cancelled while waiting behind another commit.
	release := blockLoop(t, s)
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, func(w *WriteTx) error { return w.Put("a", "late", []byte("y")) })
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it queue: not asserted
	cancel()
	blockerV := release()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Update cancelled while queued = %v, want context.Canceled", err)
	}
	if blockerV != before+1 || s.Version() != before+1 {
		t.Fatalf("versions %d, %d; want only the blocker's %d", blockerV, s.Version(), before+1)
	}
	equalRows(t, rows(t, s, "a"), map[string]string{"k": "v"})
}

// Reads racing Close either complete or fail with ErrClosed, never with
// another error.
func TestViewRacingClose(t *testing.T) {
	for round := range 50 {
		s := openTemp(t, Options{NoSync: true})
		put(t, s, "a", "k", "v")
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					err := s.View(func(tx *ReadTx) error {
						_, _, err := tx.Get("a", "k")
						return err
					})
					if err != nil {
						if !errors.Is(err, ErrClosed) {
							errs <- fmt.Errorf("round %d: View racing Close = %v, want nil or ErrClosed", round, err)
						}
						return
					}
				}
			}()
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
}

// TestCloseCommitsQueuedWrites: writers queued behind a running commit when
// Close is called are committed before Close returns, and the file holds
// them after a reopen.
func TestCloseCommitsQueuedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s := openAt(t, path, Options{Tables: testTables})
	release := blockLoop(t, s)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Update(context.Background(), func(w *WriteTx) error {
				return w.Put("a", fmt.Sprint("q", i), []byte("1"))
			})
			errs <- err
		}()
	}
	// Wait until all n are queued behind the blocked commit.
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.qmu.Lock()
		queued := len(s.queue)
		s.qmu.Unlock()
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
