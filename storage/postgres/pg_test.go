package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/storagetest"
)

var tables = []string{"a", "b"}

// newSchema opens a store on a fresh schema of the test server.
func newSchema(t *testing.T, opts Options) (*storage.Store, *Driver, string, string) {
	t.Helper()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn, t.Name())
	if opts.Tables == nil {
		opts.Tables = tables
	}
	s, d := openStore(t, dsn, schema, opts, storage.Options{})
	return s, d, dsn, schema
}

// exec runs sql on the test server, with {s} standing for the schema.
func exec(t *testing.T, dsn, schema, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, strings.ReplaceAll(sql, "{s}", pgx.Identifier{schema}.Sanitize()), args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestOtherProcessesCommitsPublished: two drivers on one schema (two
// replicas) write at once; a subscriber on each sees every version exactly
// once, in order, with no gap, and each driver's Version reaches the end.
func TestOtherProcessesCommitsPublished(t *testing.T) {
	sa, _, dsn, schema := newSchema(t, Options{})
	sb, _ := openStore(t, dsn, schema, Options{Tables: tables}, storage.Options{})
	subs := []*storage.Subscription{}
	for _, s := range []*storage.Store{sa, sb} {
		sub, err := s.Subscribe(storage.Filter{Table: "a"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Close)
		subs = append(subs, sub)
	}
	const writers, per = 4, 50
	var wg sync.WaitGroup
	for i, s := range []*storage.Store{sa, sb} {
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range per {
					if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
						return w.Put("a", fmt.Sprintf("r%d-w%d-%03d", i, g, n), []byte("v"))
					}); err != nil {
						t.Errorf("replica %d writer %d: %v", i, g, err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	const total = 2 * writers * per
	for i, sub := range subs {
		keys := map[string]bool{}
		for v := uint64(1); v <= total; v++ {
			ctx, cancel := context.WithTimeout(context.Background(), 30e9)
			ev, err := sub.Next(ctx)
			cancel()
			if err != nil {
				t.Fatalf("replica %d: waiting for version %d: %v (had %d keys)", i, v, err, len(keys))
			}
			if ev.Resync || ev.Version != v || len(ev.Changes) != 1 {
				t.Fatalf("replica %d: event %+v, want version %d with one change", i, ev, v)
			}
			if keys[ev.Changes[0].Key] {
				t.Fatalf("replica %d: key %s seen twice", i, ev.Changes[0].Key)
			}
			keys[ev.Changes[0].Key] = true
		}
	}
	for i, s := range []*storage.Store{sa, sb} {
		if s.Version() != total {
			t.Fatalf("replica %d: Version = %d, want %d", i, s.Version(), total)
		}
	}
}

// TestDamagedRowsReported: a value or log record changed behind the
// driver's back is a *storage.CorruptError naming it, never served.
func TestDamagedRowsReported(t *testing.T) {
	s, _, dsn, schema := newSchema(t, Options{})
	storagetest.Put(t, s, "a", "k1", "good")
	storagetest.Put(t, s, "a", "k2", "good")
	exec(t, dsn, schema, `UPDATE {s}.rows SET v = 'bad' WHERE k = 'k2'`)
	exec(t, dsn, schema, `UPDATE {s}.log SET changes = changes || '\x00'::bytea WHERE version = 1`)
	var ce *storage.CorruptError
	err := s.View(func(tx *storage.ReadTx) error {
		if v, _, err := tx.Get("a", "k1"); err != nil || string(v) != "good" {
			return fmt.Errorf("Get(k1) = %q, %v; want good", v, err)
		}
		_, _, err := tx.Get("a", "k2")
		if !errors.As(err, &ce) || ce.Table != "a" || ce.Key != "k2" {
			return fmt.Errorf("Get(k2) = %v, want a CorruptError naming a/k2", err)
		}
		if _, _, err := tx.Scan("a", storage.ScanOptions{}); !errors.Is(err, storage.ErrCorrupt) {
			return fmt.Errorf("Scan = %v, want storage.ErrCorrupt", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangesSince(0, storage.Filter{Table: "a"}, 0); !errors.As(err, &ce) || !strings.Contains(ce.Key, "version 1") {
		t.Fatalf("ChangesSince over a damaged log record = %v, want a CorruptError naming version 1", err)
	}
	// Rewriting the damaged row repairs it.
	storagetest.Put(t, s, "a", "k2", "again")
	if got := storagetest.Rows(t, s, "a")["k2"]; got != "again" {
		t.Fatalf("k2 after rewrite = %q", got)
	}
}

// TestLongKeysKeepOrder: keys up to storage.MaxKeySize, random (so the
// server cannot compress them) and sharing prefixes longer than the order
// index holds, are stored, found and scanned in byte order both ways.
func TestLongKeysKeepOrder(t *testing.T) {
	s, _, _, _ := newSchema(t, Options{})
	common := make([]byte, orderPrefix+10)
	_, _ = rand.Read(common)
	var keys []string
	for i := range 6 {
		tail := make([]byte, storage.MaxKeySize-len(common)-i)
		_, _ = rand.Read(tail)
		keys = append(keys, string(common)+string(tail))
	}
	keys = append(keys, string(common[:orderPrefix]), string(common[:orderPrefix-1])+"\xff", "\x00", "short")
	for _, k := range keys {
		storagetest.MustUpdate(t, s, func(w *storage.WriteTx) error { return w.Put("a", k, []byte(k[:1])) })
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	for _, reverse := range []bool{false, true} {
		var got []string
		err := s.View(func(tx *storage.ReadTx) error {
			after := ""
			for {
				kvs, next, err := tx.Scan("a", storage.ScanOptions{After: after, Limit: 3, Reverse: reverse})
				if err != nil {
					return err
				}
				for _, kv := range kvs {
					got = append(got, kv.Key)
				}
				if next == "" {
					return nil
				}
				after = next
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		w := slices.Clone(want)
		if reverse {
			slices.Reverse(w)
		}
		if !slices.Equal(got, w) {
			t.Fatalf("reverse=%v: scan order differs from byte order (%d keys, want %d)", reverse, len(got), len(w))
		}
	}
	prefixed := 0
	_ = s.View(func(tx *storage.ReadTx) error {
		kvs, _, err := tx.Scan("a", storage.ScanOptions{Prefix: string(common) + keys[0][len(common):len(common)+5]})
		prefixed = len(kvs)
		return err
	})
	if prefixed != 1 {
		t.Fatalf("prefix longer than the order index: %d rows, want 1", prefixed)
	}
}

// TestWriteScanSeesPending: inside a batch, a function's Scan and Get see
// the writes of the functions before it and its own, merged with the
// stored rows, page by page.
func TestWriteScanSeesPending(t *testing.T) {
	s, d, _, _ := newSchema(t, Options{})
	storagetest.MustUpdate(t, s, func(w *storage.WriteTx) error {
		for i := range 10 {
			if err := w.Put("a", fmt.Sprintf("k%02d", i), []byte("old")); err != nil {
				return err
			}
		}
		return nil
	})
	release := storagetest.BlockLoop(t, s)
	first := make(chan error, 1)
	go func() {
		_, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
			for _, k := range []string{"k01", "k03", "k05"} {
				if err := w.Delete("a", k); err != nil {
					return err
				}
			}
			return w.Put("a", "k04", []byte("new"))
		})
		first <- err
	}()
	waitQueued(t, d, 1)
	var got []string
	second := make(chan error, 1)
	go func() {
		_, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
			if err := w.Put("a", "k035", []byte("mine")); err != nil {
				return err
			}
			got = got[:0]
			after := ""
			for {
				kvs, next, err := w.Scan("a", storage.ScanOptions{After: after, Limit: 2})
				if err != nil {
					return err
				}
				for _, kv := range kvs {
					got = append(got, kv.Key+"="+string(kv.Value))
				}
				if next == "" {
					return nil
				}
				after = next
			}
		})
		second <- err
	}()
	waitQueued(t, d, 2)
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	want := []string{"k00=old", "k02=old", "k035=mine", "k04=new", "k06=old", "k07=old", "k08=old", "k09=old"}
	if !slices.Equal(got, want) {
		t.Fatalf("scan in the batch = %v, want %v", got, want)
	}
	if !bytes.Equal([]byte(storagetest.Rows(t, s, "a")["k04"]), []byte("new")) {
		t.Fatal("k04 not committed")
	}
}

// waitQueued waits until n Updates are queued behind the one committing.
func waitQueued(t *testing.T, d *Driver, n int) {
	t.Helper()
	for range 10000 {
		if d.commits.Queued() >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d Updates never queued", n)
}

// TestSubscribeFromAnotherProcessesSnapshot: a snapshot on replica B can
// show replica A's commits before B has published them; subscribing from
// its version still delivers exactly the later commits, no resync.
func TestSubscribeFromAnotherProcessesSnapshot(t *testing.T) {
	sa, _, dsn, schema := newSchema(t, Options{})
	sb, _ := openStore(t, dsn, schema, Options{Tables: tables, Poll: time.Hour}, storage.Options{})
	for i := range 5 {
		storagetest.Put(t, sa, "a", fmt.Sprint("k", i), "v")
	}
	var snap uint64
	if err := sb.View(func(tx *storage.ReadTx) error { snap = tx.Version(); return nil }); err != nil {
		t.Fatal(err)
	}
	if snap != 5 {
		t.Fatalf("B's snapshot at version %d, want 5", snap)
	}
	sub, err := sb.Subscribe(storage.Filter{Table: "a"}, snap)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	v := storagetest.Put(t, sa, "a", "later", "v")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil || ev.Resync || ev.Version != v || ev.Changes[0].Key != "later" {
		t.Fatalf("Next = %+v, %v; want version %d putting later", ev, err, v)
	}
}
