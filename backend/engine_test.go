package backend_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
)

// A small app of its own, so each engine behaviour has a handler made for it.
type Item struct {
	ID    string `json:"id"`
	Name  string `json:"name" jsonschema:"minLength=1"`
	Count int    `json:"count,omitempty"`
}

type PairIn struct {
	A    string `json:"a"`
	B    string `json:"b"`
	Fail bool   `json:"fail,omitempty"`
}

type KeyIn struct {
	Key string `json:"key"`
}

type Secret struct {
	Value string `json:"value"`
}

type EchoIn struct {
	Text  string `json:"text"`
	Mode  string `json:"mode,omitempty"`
	Times int    `json:"times,omitempty"`
}

type EchoOut struct {
	Text string `json:"text"`
}

type EnqueueIn struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	Fail bool   `json:"fail,omitempty"`
}

var (
	items     = schema.Table[Item]("items")
	secrets   = schema.Table[Secret]("secrets", schema.ServerOnly())
	putItem   = schema.Mutator[Item]("putItem", "Put an item")
	putPair   = schema.Mutator[PairIn]("putPair", "Put two items, then fail if asked")
	badWrite  = schema.Mutator[KeyIn]("badWrite", "Write what the schema forbids")
	setSecret = schema.Mutator[KeyIn]("setSecret", "Store a secret")
	panicky   = schema.Mutator[KeyIn]("panicky", "Panic")
	enqueue   = schema.Mutator[EnqueueIn]("enqueue", "Put an item and enqueue echo")
	echo      = schema.Action[EchoIn, EchoOut]("echo", "Echo, in several modes")
	shout     = schema.Action[EchoIn, string]("shout", "Echo in capitals, as text")
	appSchema = schema.MustDefine(1, items, secrets, putItem, putPair, badWrite, setSecret, panicky, enqueue, echo, shout)
)

// attempts counts echo calls per text, for the retry tests.
type testApp struct {
	attempts atomic.Int64
	started  chan string // receives the text of each echo call in mode "block"
	hang     func()      // when set, "record" runs call it after their mutation and never finish
}

func (a *testApp) config() backend.Config {
	return backend.Config{
		Schema: appSchema,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(putItem, func(ctx *backend.MutatorCtx, in Item) error {
				return backend.TableOf(ctx, items).Set(in.ID, in)
			}),
			backend.Mutator(putPair, func(ctx *backend.MutatorCtx, in PairIn) error {
				t := ctx.Table("items")
				if err := t.Set(in.A, Item{ID: in.A, Name: "a"}); err != nil {
					return err
				}
				if err := t.Set(in.B, Item{ID: in.B, Name: "b"}); err != nil {
					return err
				}
				if in.Fail {
					return errors.New("asked to fail after two writes")
				}
				return nil
			}),
			backend.Mutator(badWrite, func(ctx *backend.MutatorCtx, in KeyIn) error {
				if in.Key == "undeclared" {
					return ctx.Table("nope").Set("k", Item{ID: "k", Name: "x"})
				}
				if err := ctx.Table("items").Set("good", Item{ID: "good", Name: "fine"}); err != nil {
					return err
				}
				return ctx.Table("items").Set(in.Key, map[string]any{"id": in.Key, "name": 42})
			}),
			backend.Mutator(setSecret, func(ctx *backend.MutatorCtx, in KeyIn) error {
				if !ctx.IsServer() {
					return errors.New("secrets are written on the server only")
				}
				return backend.TableOf(ctx, secrets).Set("api", Secret{Value: in.Key})
			}),
			backend.Mutator(panicky, func(ctx *backend.MutatorCtx, in KeyIn) error {
				_ = ctx.Table("items").Set("before-panic", Item{ID: "before-panic", Name: "x"})
				panic("user code bug: " + in.Key)
			}),
			backend.Mutator(enqueue, func(ctx *backend.MutatorCtx, in EnqueueIn) error {
				if err := ctx.Table("items").Set(in.ID, Item{ID: in.ID, Name: in.Text}); err != nil {
					return err
				}
				if _, err := ctx.EnqueueAction("echo", EchoIn{Text: in.Text, Mode: "record"}); err != nil {
					return err
				}
				if in.Fail {
					return errors.New("failing after enqueue")
				}
				return nil
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(echo, a.echo),
			backend.Action(shout, func(ctx *backend.ActionCtx, in EchoIn) (string, error) {
				return strings.ToUpper(in.Text), nil
			}),
		},
		Platform: map[string]backend.PlatformFunc{
			"secret": func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
				return json.Marshal("s3cr3t:" + string(args))
			},
		},
	}
}

func (a *testApp) echo(ctx *backend.ActionCtx, in EchoIn) (EchoOut, error) {
	n := a.attempts.Add(1)
	switch in.Mode {
	case "record":
		// An enqueued run: write what it saw, through a mutator.
		if err := ctx.Mutate("putItem", Item{ID: "echoed-" + in.Text, Name: in.Text}); err != nil {
			return EchoOut{}, err
		}
		if a.hang != nil {
			a.hang()
			select {}
		}
		return EchoOut{Text: in.Text}, nil
	case "mutate":
		for i := range in.Times {
			if err := ctx.Mutate("putItem", Item{ID: fmt.Sprint(i), Name: in.Text}); err != nil {
				return EchoOut{}, err
			}
		}
	case "rewrite":
		// One row rewritten per call, as a streamed answer does per chunk.
		for range in.Times {
			if err := ctx.Mutate("putItem", Item{ID: "row", Name: in.Text}); err != nil {
				return EchoOut{}, err
			}
		}
	case "bad-mutate":
		return EchoOut{}, ctx.Mutate("putItem", Item{ID: "x"}) // name must not be empty
	case "bad-output":
		return EchoOut{}, nil // fine for the schema; see "wrong-output"
	case "write":
		return EchoOut{}, ctx.Table("items").Set("x", Item{ID: "x", Name: "x"})
	case "read-secret":
		var s Secret
		ok, err := ctx.Table("secrets").Get("api", &s)
		if err != nil || !ok {
			return EchoOut{}, fmt.Errorf("secret: %v %v", ok, err)
		}
		return EchoOut{Text: s.Value}, nil
	case "platform":
		raw, err := ctx.Platform.Call("secret", in.Text)
		return EchoOut{Text: string(raw)}, err
	case "panic":
		panic("action went wrong")
	case "flaky":
		if n < 3 {
			return EchoOut{}, backend.Retryable(fmt.Errorf("transient failure %d", n))
		}
	case "fatal":
		return EchoOut{}, errors.New("permanent failure")
	case "block":
		a.started <- in.Text
		<-ctx.Done()
		return EchoOut{}, ctx.Err()
	case "progress":
		ctx.Progress(1, 2, "half")
		ctx.Log(slog.LevelInfo, "working", "step", 1)
		ctx.Progress(2, 2, "done")
	}
	return EchoOut{Text: in.Text}, nil
}

func open(t *testing.T, cfg backend.Config, path string, opts ...func(*backend.Options)) *backend.Engine {
	t.Helper()
	o := backend.Options{Path: path, RetryBackoff: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	e, err := backend.Open(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func newEngine(t *testing.T) (*backend.Engine, *testApp) {
	t.Helper()
	app := &testApp{started: make(chan string, 16)}
	return open(t, app.config(), filepath.Join(t.TempDir(), "app.db")), app
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func rowCount(t *testing.T, e *backend.Engine) int {
	t.Helper()
	rows, _, _, err := e.Scan("items", backend.ScanOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

func TestMutatorIsAllOrNothing(t *testing.T) {
	e, _ := newEngine(t)
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
	if err != nil || v != before+1 {
		t.Fatalf("Mutate = %d, %v", v, err)
	}
	if n := rowCount(t, e); n != 2 {
		t.Errorf("rows = %d, want 2", n)
	}
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
	err = e.Store().View(func(tx *storage.ReadTx) error {
		rows, _, err := tx.Scan(backend.RunsTable, storage.ScanOptions{})
		queued = len(rows)
		return err
	})
	if err != nil || queued != 0 {
		t.Errorf("run records after a failed mutator: %d (%v)", queued, err)
	}
}

// waitRun subscribes to a run and returns it once done.
func waitRun(t *testing.T, e *backend.Engine, id string) *backend.Run {
	t.Helper()
	sub, err := e.SubscribeRun(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // generous: a loaded machine is slow
	defer cancel()
	for {
		run, ok, err := e.Run(id)
		if err != nil {
			t.Fatal(err)
		}
		if ok && run.Done() {
			return run
		}
		if _, err := sub.Next(ctx); err != nil {
			t.Fatalf("waiting for run %s: %v (last seen %+v)", id, err, run)
		}
	}
}

func runIDs(t *testing.T, e *backend.Engine) []string {
	t.Helper()
	var ids []string
	err := e.Store().View(func(tx *storage.ReadTx) error {
		rows, _, err := tx.Scan(backend.RunsTable, storage.ScanOptions{})
		for _, r := range rows {
			ids = append(ids, r.Key)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestEnqueuedActionRunsAfterCommit(t *testing.T) {
	e, _ := newEngine(t)
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
		run.Action != "echo" || run.EnqueuedBy != "enqueue" || run.Version != v || run.FinishedAt == nil {
		t.Errorf("run = %+v", run)
	}
	var it Item
	if _, ok, _, _ := e.Get("items", "echoed-hello"); !ok {
		t.Error("the run's own mutation is missing")
	}
	raw, _, _, _ := e.Get("items", "1")
	if json.Unmarshal(raw, &it) != nil || it.Name != "hello" {
		t.Errorf("the mutator's row = %s", raw)
	}
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
	_, _, _, getErr := e.Get("secrets", "api")
	_, _, _, scanErr := e.Scan("secrets", backend.ScanOptions{})
	_, subErr := e.Subscribe(storage.Filter{Table: "secrets"}, 0)
	_, _, _, undeclared := e.Get("nosuch", "api")
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
	if _, err := e.Subscribe(storage.Filter{}, 0); err == nil {
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

// TestMutateInIsOneStep: in a replica engine, mutators run as steps of one
// commit; one that fails (its handler, or invalid input) leaves nothing and
// the others commit, as one version. A server engine refuses MutateIn: it
// could not dispatch the runs a mutator enqueues.
func TestMutateInIsOneStep(t *testing.T) {
	app := &testApp{started: make(chan string, 16)}
	e := open(t, app.config(), filepath.Join(t.TempDir(), "replica.db"), func(o *backend.Options) { o.Replica = true })
	before := e.Version()
	var errs []error
	v, err := e.Store().Update(t.Context(), func(tx *storage.WriteTx) error {
		errs = []error{
			e.MutateIn(t.Context(), tx, "putPair", mustJSON(PairIn{A: "a", B: "b"})),
			e.MutateIn(t.Context(), tx, "putPair", mustJSON(PairIn{A: "c", B: "d", Fail: true})),
			e.MutateIn(t.Context(), tx, "putItem", mustJSON(map[string]any{"id": "e", "name": ""})),
			e.MutateIn(t.Context(), tx, "nosuch", mustJSON(map[string]any{})),
		}
		return nil
	})
	if err != nil || v != before+1 {
		t.Fatalf("Update = %d, %v; want %d", v, err, before+1)
	}
	if errs[0] != nil || !errors.Is(errs[1], backend.ErrHandler) || !errors.Is(errs[2], backend.ErrInvalidInput) || !errors.Is(errs[3], backend.ErrUnknown) {
		t.Errorf("step errors = %v; want nil, a handler error, invalid input, unknown", errs)
	}
	rows, _, _, err := e.Scan("items", backend.ScanOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.Key)
	}
	if strings.Join(keys, ",") != "a,b" {
		t.Errorf("rows %v, want a,b: only the step that succeeded", keys)
	}

	server, _ := newEngine(t)
	_, err = server.Store().Update(t.Context(), func(tx *storage.WriteTx) error {
		return server.MutateIn(t.Context(), tx, "putPair", mustJSON(PairIn{A: "a", B: "b"}))
	})
	if err == nil || !strings.Contains(err.Error(), "replica engines") {
		t.Errorf("MutateIn on a server engine: %v, want a refusal", err)
	}
}
