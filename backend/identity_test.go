package backend_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

type scopedRow struct {
	By string `json:"by"`
}

type scopedIn struct {
	ID string `json:"id"`
}

var (
	scopedRows  = schema.Table[scopedRow]("scoped")
	scopedWrite = schema.Mutator[scopedIn]("scopedWrite", "needs rows:write", schema.Scopes("rows:write"))
	scopedAct   = schema.Action[scopedIn, string]("scopedAct", "needs rows:ai; writes through scopedWrite", schema.Scopes("rows:ai"))
	scopedQueue = schema.Mutator[scopedIn]("scopedQueue", "enqueues scopedWho")
	scopedWho   = schema.Action[scopedIn, string]("scopedWho", "writes who runs it")
	scopedApp   = schema.MustDefine(1, scopedRows, scopedWrite, scopedAct, scopedQueue, scopedWho)
)

func openScoped(t *testing.T) *backend.Engine {
	t.Helper()
	cfg := backend.Config{
		Schema: scopedApp,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(scopedWrite, func(ctx *backend.MutatorCtx, in scopedIn) error {
				id, _ := backend.IdentityFrom(ctx)
				return backend.TableOf(ctx, scopedRows).Set(in.ID, scopedRow{By: id.Subject})
			}),
			backend.Mutator(scopedQueue, func(ctx *backend.MutatorCtx, in scopedIn) error {
				_, err := backend.Enqueue(ctx, scopedWho, in)
				return err
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(scopedAct, func(ctx *backend.ActionCtx, in scopedIn) (string, error) {
				// The caller holds rows:ai only: the action's writes are the server's.
				return "ok", backend.Mutate(ctx, scopedWrite, in)
			}),
			backend.Action(scopedWho, func(ctx *backend.ActionCtx, in scopedIn) (string, error) {
				return "ok", backend.Mutate(ctx, scopedWrite, in)
			}),
		},
	}
	return open(t, cfg, filepath.Join(t.TempDir(), "scoped.db"))
}

func TestScopesCheckedBeforeTheHandler(t *testing.T) {
	eng := openScoped(t)
	bob := backend.WithIdentity(context.Background(), backend.Identity{Subject: "bob", Scopes: []string{"rows:ai"}})
	_, err := eng.Mutate(bob, "scopedWrite", []byte(`{"id":"b"}`))
	if backend.KindOf(err) != backend.ErrForbidden || !strings.Contains(err.Error(), `"rows:write"`) {
		t.Fatalf("scopedWrite without rows:write: %v, want ErrForbidden naming the scope", err)
	}
	// A push is checked too, and records nothing.
	_, err = eng.Mutate(bob, "scopedWrite", []byte(`{"id":"b"}`), backend.Once("c1", 1))
	if !errors.Is(err, backend.ErrForbidden) {
		t.Fatalf("a push of scopedWrite without rows:write: %v, want ErrForbidden", err)
	}
	if _, ok, _, _ := eng.Get(context.Background(), "scoped", "b"); ok {
		t.Fatal("a refused call wrote its row")
	}
	// Refused before the input is looked at: a caller without the scope
	// learns nothing of the schema.
	if _, err := eng.Mutate(bob, "scopedWrite", []byte(`{"id":1}`)); backend.KindOf(err) != backend.ErrForbidden {
		t.Errorf("invalid input without the scope: %v, want ErrForbidden", err)
	}

	// The action needs rows:ai, which bob has; its write is the server's.
	if out, err := eng.Act(bob, "scopedAct", []byte(`{"id":"a"}`)); err != nil || string(out) != `"ok"` {
		t.Fatalf("scopedAct with rows:ai: %s, %v", out, err)
	}
	row, _, _, err := eng.Get(context.Background(), "scoped", "a")
	if err != nil || string(row) != `{"by":"bob"}` {
		t.Errorf("the action's write: %s, %v; want the caller bob seen by the mutator", row, err)
	}
	carol := backend.WithIdentity(context.Background(), backend.Identity{Subject: "carol", Scopes: []string{"rows:write"}})
	if _, err := eng.Act(carol, "scopedAct", []byte(`{"id":"c"}`)); backend.KindOf(err) != backend.ErrForbidden || !strings.Contains(err.Error(), `"rows:ai"`) {
		t.Errorf("scopedAct without rows:ai: %v, want ErrForbidden naming rows:ai", err)
	}
	if _, err := eng.Mutate(carol, "scopedWrite", []byte(`{"id":"c"}`)); err != nil {
		t.Errorf("scopedWrite with rows:write: %v", err)
	}

	// Server code (no identity) and local callers hold every scope.
	if _, err := eng.Mutate(context.Background(), "scopedWrite", []byte(`{"id":"s"}`)); err != nil {
		t.Errorf("server code: %v", err)
	}
	local := backend.WithIdentity(context.Background(), backend.Identity{Subject: "me", Local: true})
	if _, err := eng.Act(local, "scopedAct", []byte(`{"id":"l"}`)); err != nil {
		t.Errorf("a local caller: %v", err)
	}
}

// TestRunRecordsItsCaller: a run records who enqueued it, and its action
// runs as that caller.
func TestRunRecordsItsCaller(t *testing.T) {
	eng := openScoped(t)
	dana := backend.Identity{Subject: "dana", ClientID: "app", Scopes: []string{"rows:read"}}
	m, err := eng.Mutate(backend.WithIdentity(context.Background(), dana), "scopedQueue", []byte(`{"id":"q"}`))
	if err != nil || len(m.Runs) != 1 {
		t.Fatalf("scopedQueue: %+v, %v", m, err)
	}
	var run *backend.Run
	for i := 0; i < 3000; i++ { // at most 30 s: the worker runs it at once
		r, _, err := eng.Run(context.Background(), m.Runs[0])
		if err != nil {
			t.Fatal(err)
		}
		if r != nil && r.Done() {
			run = r
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if run == nil {
		t.Fatal("the run did not finish within 30 s")
	}
	if run.Status != backend.RunSucceeded || run.Caller == nil || run.Caller.Subject != "dana" || run.Caller.ClientID != "app" {
		t.Fatalf("run %+v (caller %+v), want succeeded, enqueued by dana through app", run, run.Caller)
	}
	row, _, _, err := eng.Get(context.Background(), "scoped", "q")
	if err != nil || string(row) != `{"by":"dana"}` {
		t.Errorf("the run's write: %s, %v; want the action run as dana", row, err)
	}
}

// TestStartRunChecksScopesAndRecordsCaller: an action started as a task is
// refused without its scope, as a direct call is, and its run records the
// caller it then runs as.
func TestStartRunChecksScopesAndRecordsCaller(t *testing.T) {
	eng := openScoped(t)
	carol := backend.WithIdentity(context.Background(), backend.Identity{Subject: "carol", Scopes: []string{"rows:write"}})
	if _, err := eng.StartRun(carol, "scopedAct", []byte(`{"id":"t"}`)); backend.KindOf(err) != backend.ErrForbidden {
		t.Fatalf("StartRun of scopedAct without rows:ai: %v, want ErrForbidden", err)
	}
	erin := backend.WithIdentity(context.Background(), backend.Identity{Subject: "erin", Scopes: []string{"rows:ai"}})
	run, err := eng.StartRun(erin, "scopedAct", []byte(`{"id":"t"}`))
	if err != nil {
		t.Fatalf("StartRun with rows:ai: %v", err)
	}
	if run.Caller == nil || run.Caller.Subject != "erin" {
		t.Fatalf("the task's run records caller %+v, want erin", run.Caller)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done, _, err := eng.WaitRun(ctx, run.ID)
	if err != nil || done.Status != backend.RunSucceeded {
		t.Fatalf("the task's run: %+v, %v", done, err)
	}
	if row, _, _, err := eng.Get(context.Background(), "scoped", "t"); err != nil || string(row) != `{"by":"erin"}` {
		t.Errorf("the task's write: %s, %v; want the action run as erin", row, err)
	}
}

// TestRunsAreTheirCallersOwn: a task another subject started is not found
// by Run, WaitRun, CancelRun or TaskRuns (so tasks/get, tasks/result,
// tasks/cancel and tasks/list), while its own caller, local callers and
// server code see it.
func TestRunsAreTheirCallersOwn(t *testing.T) {
	eng := openScoped(t)
	alice := backend.WithIdentity(context.Background(), backend.Identity{Subject: "alice", Scopes: []string{"rows:ai"}})
	bob := backend.WithIdentity(context.Background(), backend.Identity{Subject: "bob", Scopes: []string{"rows:ai"}})
	run, err := eng.StartRun(alice, "scopedAct", []byte(`{"id":"own"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok, err := eng.Run(bob, run.ID); err != nil || ok || r != nil {
		t.Errorf("bob's Run of alice's task: %+v, %v, %v; want not found", r, ok, err)
	}
	if r, ok, err := eng.WaitRun(bob, run.ID); err != nil || ok || r != nil {
		t.Errorf("bob's WaitRun of alice's task: %+v, %v, %v; want not found", r, ok, err)
	}
	if r, ok, err := eng.CancelRun(bob, run.ID); err != nil || ok || r != nil {
		t.Errorf("bob's CancelRun of alice's task: %+v, %v, %v; want not found", r, ok, err)
	}
	if ok, err := eng.AnswerRun(bob, run.ID, map[string]json.RawMessage{"q": json.RawMessage(`{}`)}); err != nil || ok {
		t.Errorf("bob's AnswerRun of alice's task: %v, %v; want not found", ok, err)
	}
	if runs, _, err := eng.TaskRuns(bob, "", 100); err != nil || len(runs) != 0 {
		t.Errorf("bob's TaskRuns: %d runs, %v; want none", len(runs), err)
	}
	ctx, cancel := context.WithTimeout(alice, time.Minute)
	defer cancel()
	if r, ok, err := eng.WaitRun(ctx, run.ID); err != nil || !ok || r.Status != backend.RunSucceeded || r.Cancelled {
		t.Fatalf("alice's WaitRun of her task: %+v, %v, %v; want it succeeded, not cancelled by bob", r, ok, err)
	}
	for name, ctx := range map[string]context.Context{"alice": alice, "server": context.Background()} {
		if runs, _, err := eng.TaskRuns(ctx, "", 100); err != nil || len(runs) != 1 {
			t.Errorf("%s's TaskRuns: %d runs, %v; want alice's task", name, len(runs), err)
		}
	}
	// A local caller is trusted with every scope, not with other users'
	// runs (their input and output may be private rows).
	local := backend.WithIdentity(context.Background(), backend.Identity{Subject: "me", Local: true})
	if runs, _, err := eng.TaskRuns(local, "", 100); err != nil || len(runs) != 0 {
		t.Errorf("a local caller's TaskRuns: %d runs, %v; want none of alice's", len(runs), err)
	}
	if _, ok, err := eng.Run(local, run.ID); err != nil || ok {
		t.Errorf("a local caller's Run of alice's task: %v, %v; want not found", ok, err)
	}
}
