package backend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/postgres"
)

// The replicas' app: notes written by concurrent writers and by a
// streaming action, and a queued action that records where it ran.
type RNote struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

type WorkIn struct {
	ID string `json:"id"`
}

type WorkOut struct {
	By string `json:"by"`
}

type StreamIn struct {
	ID     string `json:"id"`
	Chunks int    `json:"chunks"`
}

var (
	replNotes   = schema.Table[RNote]("notes")
	replRan     = schema.Table[RNote]("ran")
	putNote     = schema.Mutator[RNote]("putNote", "Put a note")
	putRan      = schema.Mutator[RNote]("putRan", "Record an execution")
	enqueueWork = schema.Mutator[WorkIn]("enqueueWork", "Enqueue work")
	work        = schema.Action[WorkIn, WorkOut]("work", "Do queued work")
	stream      = schema.Action[StreamIn, WorkOut]("stream", "Write a note chunk by chunk")
	waitCancel  = schema.Action[WorkIn, WorkOut]("waitCancel", "Say where it runs, then wait to be cancelled")
	replSchema  = schema.MustDefine(1, replNotes, replRan, putNote, putRan, enqueueWork, work, stream, waitCancel)
)

func replicaConfig(name string) backend.Config { return hangingReplicaConfig(name, 0) }

// hangingReplicaConfig is replicaConfig whose work action, once it has done
// hangAfter runs (0: never), holds every later run until cancelled, so a
// replica killed after that surely has runs in flight.
func hangingReplicaConfig(name string, hangAfter int64) backend.Config {
	var done atomic.Int64
	return backend.Config{
		Schema: replSchema,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(putNote, func(ctx *backend.MutatorCtx, in RNote) error { return backend.TableOf(ctx, replNotes).Set(in.ID, in) }),
			backend.Mutator(putRan, func(ctx *backend.MutatorCtx, in RNote) error { return backend.TableOf(ctx, replRan).Set(in.ID, in) }),
			backend.Mutator(enqueueWork, func(ctx *backend.MutatorCtx, in WorkIn) error {
				_, err := ctx.EnqueueAction("work", in)
				return err
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(work, func(ctx *backend.ActionCtx, in WorkIn) (WorkOut, error) {
				if hangAfter > 0 && done.Add(1) > hangAfter {
					<-ctx.Done()
					return WorkOut{}, ctx.Err()
				}
				time.Sleep(100 * time.Millisecond) // in flight when a replica is killed
				err := ctx.Mutate("putRan", RNote{ID: ctx.RunID() + "/" + name + "/" + backend.NewRef(), Text: name})
				return WorkOut{By: name}, err
			}),
			backend.Action(waitCancel, func(ctx *backend.ActionCtx, in WorkIn) (WorkOut, error) {
				if err := ctx.Mutate("putRan", RNote{ID: ctx.RunID(), Text: name}); err != nil {
					return WorkOut{}, err
				}
				select {
				case <-ctx.Done():
					return WorkOut{}, ctx.Err()
				case <-time.After(2 * time.Minute):
					return WorkOut{By: name}, nil
				}
			}),
			backend.Action(stream, func(ctx *backend.ActionCtx, in StreamIn) (WorkOut, error) {
				text := ""
				for i := range in.Chunks {
					text += fmt.Sprintf("chunk%d ", i)
					if err := ctx.Mutate("putNote", RNote{ID: in.ID, Text: text}); err != nil {
						return WorkOut{}, err
					}
				}
				return WorkOut{By: name}, nil
			}),
		},
	}
}

// replicaStorage opens engines on schema of the server at dsn, with a log
// long enough for the tests' audits.
func replicaStorage(dsn, schemaName string) func(*backend.Options) {
	return func(o *backend.Options) {
		o.Storage = func(tables []string, v int) (storage.Driver, error) {
			return postgres.Open(context.Background(), dsn, postgres.Options{Tables: tables, SchemaVersion: v,
				Schema: schemaName, LogRetention: 1 << 20, Poll: 200 * time.Millisecond})
		}
	}
}

func openReplica(t *testing.T, dsn, schemaName, name string) *backend.Engine {
	t.Helper()
	e, err := backend.Open(replicaConfig(name), replicaOptions(dsn, schemaName))
	if err != nil {
		t.Fatalf("open replica %s: %v", name, err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func replicaOptions(dsn, schemaName string) backend.Options {
	o := backend.Options{RunLease: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	replicaStorage(dsn, schemaName)(&o)
	return o
}

// TestReplicasSubscribersSeeEveryChangeInOrder: three engines on one
// schema (each with its own connections and listener, as replicas), three
// writers on each; a subscriber on every replica sees every write exactly
// once, in version order, with no gap and nothing else.
func TestReplicasSubscribersSeeEveryChangeInOrder(t *testing.T) {
	dsn := pgtest.DSN(t)
	sch := pgtest.Schema(t, dsn, t.Name())
	var reps []*backend.Engine
	var subs []*backend.Feed
	for i := range 3 {
		e := openReplica(t, dsn, sch, fmt.Sprint("r", i))
		f, err := e.Subscribe(t.Context(), backend.Filter{Table: "notes"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		reps, subs = append(reps, e), append(subs, f)
	}
	const perWriter = 40
	var mu sync.Mutex
	want := map[uint64]string{} // version → key
	var wg sync.WaitGroup
	for i, e := range reps {
		for w := range 3 {
			wg.Go(func() {
				for n := range perWriter {
					key := fmt.Sprintf("r%d-w%d-%d", i, w, n)
					m, err := e.Mutate(context.Background(), "putNote", mustJSON(RNote{ID: key, Text: key}))
					if err != nil {
						t.Errorf("write %s: %v", key, err)
						return
					}
					mu.Lock()
					want[m.Version] = key
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for i, f := range subs {
		var last uint64
		seen := 0
		for seen < len(want) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			ev, err := f.Next(ctx)
			cancel()
			if err != nil {
				t.Fatalf("subscriber on r%d: %v after %d of %d changes", i, err, seen, len(want))
			}
			if ev.Resync || ev.Version <= last || len(ev.Changes) != 1 || want[ev.Version] != ev.Changes[0].Key {
				t.Fatalf("subscriber on r%d: event %+v after version %d: want version > %d holding the key committed as it", i, ev, last, last)
			}
			last = ev.Version
			seen++
		}
	}
}

// TestReplicaStreamWatchedFromAnother: a streaming action on one replica is
// watched growing, chunk by chunk, from another.
func TestReplicaStreamWatchedFromAnother(t *testing.T) {
	dsn := pgtest.DSN(t)
	sch := pgtest.Schema(t, dsn, t.Name())
	a := openReplica(t, dsn, sch, "a")
	b := openReplica(t, dsn, sch, "b")
	f, err := b.Subscribe(t.Context(), backend.Filter{Table: "notes", Key: "answer"}, b.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const chunks = 30
	done := make(chan error, 1)
	go func() {
		_, err := a.Act(context.Background(), "stream", mustJSON(StreamIn{ID: "answer", Chunks: chunks}))
		done <- err
	}()
	text := ""
	for i := range chunks {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		ev, err := f.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("watching from b: %v after %d of %d chunks", err, i, chunks)
		}
		text += fmt.Sprintf("chunk%d ", i)
		var n RNote
		if ev.Resync || len(ev.Changes) != 1 || json.Unmarshal(ev.Changes[0].Value, &n) != nil || n.Text != text {
			t.Fatalf("chunk %d seen from b: %+v, want the text %q", i, ev, text)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// replicaEnv, when set (to dsn, schema, name, how many runs to enqueue and
// after how many runs to hang, tab-separated), makes the test binary a
// replica process.
const replicaEnv = "MCP_SYNC_TEST_REPLICA_CHILD"

func replicaChild(spec string) {
	parts := strings.Split(spec, "\t")
	var n int
	var hangAfter int64
	fmt.Sscan(parts[3], &n)
	fmt.Sscan(parts[4], &hangAfter)
	e, err := backend.Open(hangingReplicaConfig(parts[2], hangAfter), replicaOptions(parts[0], parts[1]))
	if err != nil {
		fmt.Println("OPEN FAILED:", err)
		os.Exit(1)
	}
	if err := enqueueMany(e, parts[2], n); err != nil {
		fmt.Println("ENQUEUE FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("ENQUEUED")
	_, _ = os.Stdin.Read(make([]byte, 1)) // until the parent closes stdin (or kills it)
	e.Close()
}

// enqueueMany enqueues n runs of work from four writers.
func enqueueMany(e *backend.Engine, name string, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				if _, err := e.Mutate(context.Background(), "enqueueWork", mustJSON(WorkIn{ID: fmt.Sprintf("%s-%d", name, i)})); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// TestReplicaCancelsARunAnotherRuns: a task cancelled through one replica
// stops on the replica running it, and ends cancelled.
func TestReplicaCancelsARunAnotherRuns(t *testing.T) {
	dsn := pgtest.DSN(t)
	sch := pgtest.Schema(t, dsn, t.Name())
	reps := map[string]*backend.Engine{"a": openReplica(t, dsn, sch, "a"), "b": openReplica(t, dsn, sch, "b")}
	run, err := reps["a"].StartRun(t.Context(), "waitCancel", mustJSON(WorkIn{ID: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	var runner string
	deadline := time.Now().Add(60 * time.Second)
	for runner == "" {
		if time.Now().After(deadline) {
			t.Fatal("the run never started")
		}
		time.Sleep(20 * time.Millisecond)
		if row, ok, _, err := reps["a"].Get(t.Context(), "ran", run.ID); err == nil && ok {
			var n RNote
			_ = json.Unmarshal(row, &n)
			runner = n.Text
		}
	}
	other := map[string]string{"a": "b", "b": "a"}[runner]
	if _, _, err := reps[other].CancelRun(t.Context(), run.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	got, ok, err := reps[other].WaitRun(ctx, run.ID)
	if err != nil || !ok || got.Status != backend.RunFailed || !got.Cancelled {
		t.Fatalf("run on %s cancelled through %s: %+v, %v, %v; want failed, cancelled", runner, other, got, ok, err)
	}
}
