package backend_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
)

func TestMutatorIsAllOrNothing(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e, _ := newEngine(t, drv)
		before := e.Version()
		_, err := e.Mutate(t.Context(), "putPair", mustJSON(PairIn{A: "a", B: "b", Fail: true}))
		if err == nil || !errors.Is(err, backend.ErrHandler) || !strings.Contains(err.Error(), "asked to fail after two writes") {
			t.Fatalf("err = %v, want the handler's error", err)
		}
		if n := rowCount(t, e); n != 0 {
			t.Errorf("a failed mutator left %d rows", n)
		}
		if e.Version() != before {
			t.Errorf("version moved from %d to %d on a failed mutator", before, e.Version())
		}
		v, err := e.Mutate(t.Context(), "putPair", mustJSON(PairIn{A: "a", B: "b"}))
		if err != nil || v.Version != before+1 {
			t.Fatalf("Mutate = %d, %v", v.Version, err)
		}
		if n := rowCount(t, e); n != 2 {
			t.Errorf("rows = %d, want 2", n)
		}
	})
}

func TestInvalidInputIsRefusedAndWritesNothing(t *testing.T) {
	e, _ := newEngine(t)
	cases := []struct {
		name, tool, input string
		kind              error
		want              []string
	}{
		{"wrong type", "putItem", `{"id":"1","name":5}`, backend.ErrInvalidInput, []string{"invalid input of mutator putItem", "at /name", "want string"}},
		{"missing field", "putItem", `{"id":"1"}`, backend.ErrInvalidInput, []string{"missing property 'name'"}},
		{"constraint", "putItem", `{"id":"1","name":""}`, backend.ErrInvalidInput, []string{"at /name", "minLength"}},
		{"malformed JSON", "putItem", `{"id":`, backend.ErrInvalidInput, []string{"malformed JSON"}},
		{"unknown mutator", "nope", `{}`, backend.ErrUnknown, []string{`no mutator named "nope"`}},
		{"value off the table's schema", "badWrite", `{"key":"k"}`, backend.ErrHandler, []string{"mutator badWrite", "table items", "invalid row of table items", "at /name"}},
		{"undeclared table", "badWrite", `{"key":"undeclared"}`, backend.ErrHandler, []string{"mutator badWrite", `table "nope" is not declared`}},
		{"panic", "panicky", `{"key":"k"}`, backend.ErrInternal, []string{"mutator panicky", "internal error (ref "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v0 := e.Version()
			_, err := e.Mutate(t.Context(), tc.tool, json.RawMessage(tc.input))
			if err == nil {
				t.Fatal("accepted")
			}
			if backend.KindOf(err) != tc.kind {
				t.Errorf("KindOf = %v, want %v (err %v)", backend.KindOf(err), tc.kind, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if n := rowCount(t, e); n != 0 {
				t.Errorf("%d rows written", n)
			}
			if e.Version() != v0 {
				t.Error("version moved")
			}
		})
	}
	var ve *schema.ValidationError
	_, err := e.Mutate(t.Context(), "putItem", json.RawMessage(`{"id":1,"name":"x"}`))
	if !errors.As(err, &ve) || ve.Fields[0].Path != "/id" {
		t.Errorf("the field path is not reachable: %v", err)
	}
}

func TestEnqueueInAFailingMutatorEnqueuesNothing(t *testing.T) {
	e, app := newEngine(t)
	_, err := e.Mutate(t.Context(), "enqueue", mustJSON(EnqueueIn{ID: "1", Text: "hi", Fail: true}))
	if err == nil {
		t.Fatal("the failing mutator succeeded")
	}
	time.Sleep(100 * time.Millisecond) // give a wrongly dispatched run time to show up
	if app.attempts.Load() != 0 {
		t.Error("the action of a failed mutator ran")
	}
	var queued int
	err = backend.StoreOf(e).View(func(tx *storage.ReadTx) error {
		rows, _, err := tx.Scan(backend.RunsTable, storage.ScanOptions{})
		queued = len(rows)
		return err
	})
	if err != nil || queued != 0 {
		t.Errorf("run records after a failed mutator: %d (%v)", queued, err)
	}
}

func TestEnqueuedActionRunsAfterCommit(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e, _ := newEngine(t, drv)
		v, err := e.Mutate(t.Context(), "enqueue", mustJSON(EnqueueIn{ID: "1", Text: "hello"}))
		if err != nil {
			t.Fatal(err)
		}
		ids := runIDs(t, e)
		if len(ids) != 1 {
			t.Fatalf("runs = %v", ids)
		}
		run := waitRun(t, e, ids[0])
		if run.Status != backend.RunSucceeded || string(run.Output) != `{"text":"hello"}` || run.Attempts != 1 ||
			run.Action != "echo" || run.EnqueuedBy != "enqueue" || run.Version != v.Version || run.FinishedAt == nil {
			t.Errorf("run = %+v", run)
		}
		var it Item
		if _, ok, _, _ := e.Get(t.Context(), "items", "echoed-hello"); !ok {
			t.Error("the run's own mutation is missing")
		}
		raw, _, _, _ := e.Get(t.Context(), "items", "1")
		if json.Unmarshal(raw, &it) != nil || it.Name != "hello" {
			t.Errorf("the mutator's row = %s", raw)
		}
	})
}

func TestRetryPolicy(t *testing.T) {
	t.Run("retryable errors are retried", func(t *testing.T) {
		app := &testApp{}
		cfg := app.config()
		cfg.Mutators[5] = backend.Mutator(enqueue, func(ctx *backend.MutatorCtx, in EnqueueIn) error {
			_, err := ctx.EnqueueAction("echo", EchoIn{Text: in.Text, Mode: in.ID})
			return err
		})
		e := open(t, cfg, filepath.Join(t.TempDir(), "a.db"))
		if _, err := e.Mutate(t.Context(), "enqueue", mustJSON(EnqueueIn{ID: "flaky", Text: "x"})); err != nil {
			t.Fatal(err)
		}
		run := waitRun(t, e, runIDs(t, e)[0])
		if run.Status != backend.RunSucceeded || run.Attempts != 3 {
			t.Errorf("run = %+v, want succeeded on attempt 3", run)
		}
		if _, err := e.Mutate(t.Context(), "enqueue", mustJSON(EnqueueIn{ID: "fatal", Text: "y"})); err != nil {
			t.Fatal(err)
		}
		run = waitRun(t, e, runIDs(t, e)[1])
		if run.Status != backend.RunFailed || run.Attempts != 1 || !strings.Contains(run.Error, "permanent failure") {
			t.Errorf("run = %+v, want failed after 1 attempt", run)
		}
	})
	t.Run("attempts are bounded", func(t *testing.T) {
		app := &testApp{}
		app.attempts.Store(-100) // flaky stays flaky
		cfg := app.config()
		cfg.Mutators[5] = backend.Mutator(enqueue, func(ctx *backend.MutatorCtx, in EnqueueIn) error {
			_, err := ctx.EnqueueAction("echo", EchoIn{Text: in.Text, Mode: "flaky"})
			return err
		})
		e := open(t, cfg, filepath.Join(t.TempDir(), "a.db"), func(o *backend.Options) { o.MaxAttempts = 2 })
		if _, err := e.Mutate(t.Context(), "enqueue", mustJSON(EnqueueIn{ID: "1", Text: "x"})); err != nil {
			t.Fatal(err)
		}
		run := waitRun(t, e, runIDs(t, e)[0])
		if run.Status != backend.RunFailed || run.Attempts != 2 || !strings.Contains(run.Error, "transient failure") {
			t.Errorf("run = %+v, want failed after 2 attempts", run)
		}
	})
}

func TestActions(t *testing.T) {
	e, _ := newEngine(t)
	if _, err := e.Mutate(t.Context(), "setSecret", mustJSON(KeyIn{Key: "k-123"})); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, action, input string
		want                string // output JSON, or an error fragment
		kind                error
	}{
		{"plain", "echo", `{"text":"hi"}`, `{"text":"hi"}`, nil},
		{"text output", "shout", `{"text":"hi"}`, `"HI"`, nil},
		{"mutates", "echo", `{"text":"m","mode":"mutate","times":3}`, `{"text":"m"}`, nil},
		{"reads a server-only table", "echo", `{"text":"","mode":"read-secret"}`, `{"text":"k-123"}`, nil},
		{"platform call", "echo", `{"text":"x","mode":"platform"}`, `{"text":"\"s3cr3t:\\\"x\\\"\""}`, nil},
		{"invalid input", "echo", `{"text":1}`, "at /text", backend.ErrInvalidInput},
		{"unknown action", "nope", `{}`, `no action named "nope"`, backend.ErrUnknown},
		{"handler error", "echo", `{"text":"","mode":"fatal"}`, "action echo: permanent failure", backend.ErrHandler},
		{"panic", "echo", `{"text":"","mode":"panic"}`, "action echo: internal error (ref ", backend.ErrInternal},
		{"inner mutate with bad input is the handler's fault", "echo", `{"text":"","mode":"bad-mutate"}`, "invalid input of mutator putItem: at /name", backend.ErrHandler},
		{"direct table writes are refused", "echo", `{"text":"","mode":"write"}`, "call ctx.Mutate", backend.ErrHandler},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.Act(t.Context(), tc.action, json.RawMessage(tc.input))
			if tc.kind == nil {
				if err != nil || string(out) != tc.want {
					t.Fatalf("Act = %s, %v; want %s", out, err, tc.want)
				}
				return
			}
			if err == nil || backend.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Act error = %v (kind %v), want %v containing %q", err, backend.KindOf(err), tc.kind, tc.want)
			}
		})
	}
}

type recorder struct {
	progress []backend.Progress
	logs     []string
}

func (r *recorder) Progress(p backend.Progress) { r.progress = append(r.progress, p) }
func (r *recorder) Log(level slog.Level, msg string, args ...any) {
	r.logs = append(r.logs, fmt.Sprint(level, " ", msg, args))
}

func TestActionReportsProgressAndLogs(t *testing.T) {
	e, _ := newEngine(t)
	rec := &recorder{}
	ctx := backend.WithReporter(t.Context(), rec)
	if _, err := e.Act(ctx, "echo", json.RawMessage(`{"text":"m","mode":"mutate","times":3}`)); err != nil {
		t.Fatal(err)
	}
	if len(rec.progress) != 3 || rec.progress[2].Progress != 3 || !strings.Contains(rec.progress[2].Message, "putItem committed version") {
		t.Errorf("progress on ctx.Mutate = %+v", rec.progress)
	}
	rec = &recorder{}
	if _, err := e.Act(backend.WithReporter(t.Context(), rec), "echo", json.RawMessage(`{"text":"p","mode":"progress"}`)); err != nil {
		t.Fatal(err)
	}
	if len(rec.progress) != 2 || rec.progress[0] != (backend.Progress{Progress: 1, Total: 2, Message: "half"}) {
		t.Errorf("explicit progress = %+v", rec.progress)
	}
	if len(rec.logs) != 1 || rec.logs[0] != "INFO working[step 1]" {
		t.Errorf("logs = %q", rec.logs)
	}
}

func TestCancelStopsAnAction(t *testing.T) {
	e, app := newEngine(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := e.Act(ctx, "echo", json.RawMessage(`{"text":"c","mode":"block"}`))
		done <- err
	}()
	<-app.started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled in the chain", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the action did not stop within 30 s of the cancel")
	}
}

func TestServerOnlyTablesNeverReachClients(t *testing.T) {
	e, _ := newEngine(t)
	if _, err := e.Mutate(t.Context(), "setSecret", mustJSON(KeyIn{Key: "sk-live-123"})); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range e.ClientTables() {
		if tbl.Name == "secrets" {
			t.Error("ClientTables lists the server-only table")
		}
	}
	_, _, _, getErr := e.Get(t.Context(), "secrets", "api")
	_, _, _, scanErr := e.Scan(t.Context(), "secrets", backend.ScanOptions{})
	_, subErr := e.Subscribe(t.Context(), backend.Filter{Table: "secrets"}, 0)
	_, _, _, undeclared := e.Get(t.Context(), "nosuch", "api")
	for name, err := range map[string]error{"Get": getErr, "Scan": scanErr, "Subscribe": subErr} {
		if err == nil || backend.KindOf(err) != backend.ErrUnknown {
			t.Errorf("%s on a server-only table: %v", name, err)
			continue
		}
		// Told apart from an undeclared table by nothing but the name.
		if strings.ReplaceAll(err.Error(), "secrets", "nosuch") != strings.ReplaceAll(undeclared.Error(), "api", "api") {
			t.Errorf("%s error %q differs from an undeclared table's %q", name, err, undeclared)
		}
		if strings.Contains(err.Error(), "sk-live") || strings.Contains(err.Error(), "server") {
			t.Errorf("%s error leaks: %q", name, err)
		}
	}
	if _, err := e.Subscribe(t.Context(), backend.Filter{}, 0); err == nil {
		t.Error("a subscription to every table was allowed: it would carry server-only rows")
	}
	// The secret is there for server code.
	out, err := e.Act(t.Context(), "echo", json.RawMessage(`{"text":"","mode":"read-secret"}`))
	if err != nil || !strings.Contains(string(out), "sk-live-123") {
		t.Errorf("server code cannot read its secret: %s %v", out, err)
	}
}

func TestConfigMustMatchTheSchema(t *testing.T) {
	app := &testApp{}
	full := app.config()
	missing := full
	missing.Mutators = full.Mutators[1:]
	missing.Actions = nil
	extraSchema := schema.MustDefine(1, items, putItem)
	extra := backend.Config{Schema: extraSchema, Mutators: []backend.MutatorImpl{
		backend.Mutator(putItem, func(*backend.MutatorCtx, Item) error { return nil }),
		backend.Mutator(putPair, func(*backend.MutatorCtx, PairIn) error { return nil }),
	}}
	twice := backend.Config{Schema: extraSchema, Mutators: []backend.MutatorImpl{
		backend.Mutator(putItem, func(*backend.MutatorCtx, Item) error { return nil }),
		backend.Mutator(putItem, func(*backend.MutatorCtx, Item) error { return nil }),
	}}
	for name, tc := range map[string]struct {
		cfg  backend.Config
		want []string
	}{
		"missing implementations":   {missing, []string{`mutator "putItem" is declared but has no implementation`, `action "echo" is declared but has no implementation`, `action "shout"`}},
		"undeclared implementation": {extra, []string{`mutator "putPair" is implemented but not declared`}},
		"implemented twice":         {twice, []string{`mutator "putItem" is implemented twice`}},
		"no schema":                 {backend.Config{}, []string{"Config.Schema is nil"}},
	} {
		t.Run(name, func(t *testing.T) {
			e, err := backend.Open(tc.cfg, backend.Options{Path: filepath.Join(t.TempDir(), "x.db")})
			if err == nil {
				e.Close()
				t.Fatal("Open accepted the config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
