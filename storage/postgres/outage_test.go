package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/storagetest"
)

// TestOutageFailsClearlyThenRecovers: while the server is unreachable,
// Updates and Views fail with storage.ErrUnavailable, naming no address;
// once it is back the driver reconnects on its own, and commits made by
// another process meanwhile reach this one's subscribers.
func TestOutageFailsClearlyThenRecovers(t *testing.T) {
	dsn := pgtest.DSN(t)
	p := pgtest.NewProxy(t, dsn)
	proxied := p.DSN
	schema := pgtest.Schema(t, dsn, t.Name())
	s, _ := openStore(t, proxied, schema, Options{Tables: tables, Poll: 50 * time.Millisecond}, storage.Options{})
	other, _ := openStore(t, dsn, schema, Options{Tables: tables}, storage.Options{})
	storagetest.Put(t, s, "a", "before", "1")
	sub, err := s.Subscribe(storage.Filter{Table: "a"}, s.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	p.Down()
	_, err = s.Update(context.Background(), func(w *storage.WriteTx) error { return w.Put("a", "during", []byte("1")) })
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Update during the outage = %v, want storage.ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), p.Addr) || strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("error %q names the server's address", err)
	}
	if err := s.View(func(*storage.ReadTx) error { return nil }); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("View during the outage = %v, want storage.ErrUnavailable", err)
	}
	storagetest.Put(t, other, "a", "elsewhere", "1") // another replica, still connected

	p.Up()
	var v uint64
	for try := 0; ; try++ {
		v, err = s.Update(context.Background(), func(w *storage.WriteTx) error { return w.Put("a", "after", []byte("1")) })
		if err == nil || try == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Update after the outage: %v", err)
	}
	if v != 3 {
		t.Fatalf("Update after the outage = version %d, want 3", v)
	}
	for _, want := range []string{"elsewhere", "after"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ev, err := sub.Next(ctx)
		cancel()
		if err != nil || ev.Resync || len(ev.Changes) != 1 || ev.Changes[0].Key != want {
			t.Fatalf("subscriber after the outage: %+v, %v; want the change of %q", ev, err, want)
		}
	}
}

// TestOpenErrors: a bad DSN, an unreachable server and a newer schema are
// refused clearly, naming no password; Path names no credentials.
func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Open(ctx, "postgres://u:secret@127.0.0.1:1/db?sslmode=bogus", Options{})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Open with a bad DSN = %v, want an error without the password", err)
	}
	_, err = Open(ctx, "postgres://u:secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", Options{})
	if !errors.Is(err, storage.ErrUnavailable) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Open of an unreachable server = %v, want storage.ErrUnavailable without the password", err)
	}
	if _, err := Open(ctx, "postgres://127.0.0.1:1/db", Options{Tables: []string{"bad\xff"}}); err == nil {
		t.Fatal("Open with a table name PostgreSQL cannot store succeeded")
	}

	s, d, dsn, schema := newSchema(t, Options{SchemaVersion: 3})
	if strings.Contains(d.Path(), "@") || !strings.Contains(d.Path(), schema) {
		t.Fatalf("Path = %q: want the schema, no user", d.Path())
	}
	storagetest.Put(t, s, "a", "k", "v")
	if _, err := Open(ctx, dsn, Options{Tables: tables, Schema: schema, SchemaVersion: 2}); !errors.Is(err, storage.ErrSchemaTooNew) {
		t.Fatalf("Open by an older schema = %v, want storage.ErrSchemaTooNew", err)
	}
	d2, err := Open(ctx, dsn, Options{Tables: tables, Schema: schema, SchemaVersion: 4})
	if err != nil {
		t.Fatalf("Open by a newer schema: %v", err)
	}
	if d2.Version() != 1 {
		t.Fatalf("Version seen by a second open = %d, want 1", d2.Version())
	}
	_ = d2.Close()
}

// TestRefusedWriteSinksOnlyItsFunction: when PostgreSQL refuses one
// function's write in a shared batch, the others commit (each retried
// alone) and only it fails, with the server's reason.
func TestRefusedWriteSinksOnlyItsFunction(t *testing.T) {
	s, d, dsn, schema := newSchema(t, Options{})
	storagetest.Put(t, s, "a", "seed", "1")
	exec(t, dsn, schema, `ALTER TABLE {s}.rows ADD CONSTRAINT no_poison CHECK (k <> 'poison'::bytea)`)
	release := storagetest.BlockLoop(t, s)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i)
			if i == 3 {
				key = "poison"
			}
			_, errs[i] = s.Update(context.Background(), func(w *storage.WriteTx) error { return w.Put("a", key, []byte("v")) })
		}()
		waitQueued(t, d, i+1)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if i == 3 {
			if err == nil || !strings.Contains(err.Error(), "no_poison") {
				t.Fatalf("the poisoned write = %v, want the server's refusal naming the constraint", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("writer %d sunk by another's refused write: %v", i, err)
		}
	}
	rows := storagetest.Rows(t, s, "a")
	if len(rows) != n || rows["poison"] != "" {
		t.Fatalf("rows = %v, want seed, blocker-free k0..k5 but k3", rows)
	}
	if s.Version() != 2+n-1 {
		t.Fatalf("Version = %d, want %d", s.Version(), 2+n-1)
	}
}

// TestOneKeyTwiceInABatch: two functions of one batch writing one key
// commit as one row write holding the later value, and the log keeps both
// versions' changes.
func TestOneKeyTwiceInABatch(t *testing.T) {
	s, d, _, _ := newSchema(t, Options{})
	release := storagetest.BlockLoop(t, s)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			storagetest.Put(t, s, "a", "same", fmt.Sprint(i))
		}()
		waitQueued(t, d, i+1)
	}
	v := release()
	wg.Wait()
	if got := storagetest.Rows(t, s, "a")["same"]; got != "2" {
		t.Fatalf("same = %q, want the last write's 2", got)
	}
	evs, err := s.ChangesSince(v, storage.Filter{Table: "a"}, 0)
	if err != nil || len(evs) != 3 {
		t.Fatalf("ChangesSince = %+v, %v; want 3 events", evs, err)
	}
	for i, ev := range evs {
		if string(ev.Changes[0].Value) != fmt.Sprint(i) {
			t.Fatalf("event %d = %+v, want value %d", i, ev, i)
		}
	}
}

// TestLaggingReplicaResyncs: a replica cut off while another commits past
// the log's retention publishes a gap when it is back: its live
// subscriber gets a resync, never a silent jump, then the later changes.
func TestLaggingReplicaResyncs(t *testing.T) {
	dsn := pgtest.DSN(t)
	p := pgtest.NewProxy(t, dsn)
	proxied := p.DSN
	schema := pgtest.Schema(t, dsn, t.Name())
	a, _ := openStore(t, dsn, schema, Options{Tables: tables, LogRetention: 5}, storage.Options{})
	b, _ := openStore(t, proxied, schema, Options{Tables: tables, LogRetention: 5, Poll: 50 * time.Millisecond}, storage.Options{})
	storagetest.Put(t, a, "a", "first", "1")
	sub, err := b.Subscribe(storage.Filter{Table: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	next := func() storage.Event {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ev, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		return ev
	}
	if ev := next(); ev.Version != 1 || ev.Resync {
		t.Fatalf("first event %+v, want version 1", ev)
	}
	p.Down()
	for i := range 20 {
		storagetest.Put(t, a, "a", fmt.Sprint("k", i), "v")
	}
	p.Up()
	ev := next()
	if !ev.Resync || ev.Version < 21 {
		t.Fatalf("after the gap: %+v, want a resync at version 21 or later", ev)
	}
	v := storagetest.Put(t, a, "a", "after", "1")
	for ev = next(); ev.Version < v; ev = next() {
	}
	if ev.Version != v || ev.Changes[0].Key != "after" {
		t.Fatalf("after the resync: %+v, want version %d", ev, v)
	}
}
