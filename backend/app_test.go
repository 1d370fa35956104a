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

func newEngine(t *testing.T, opts ...func(*backend.Options)) (*backend.Engine, *testApp) {
	t.Helper()
	app := &testApp{started: make(chan string, 16)}
	return open(t, app.config(), filepath.Join(t.TempDir(), "app.db"), opts...), app
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
	rows, _, _, err := e.Scan(t.Context(), "items", backend.ScanOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

// waitRun subscribes to a run and returns it once done.
func waitRun(t *testing.T, e *backend.Engine, id string) *backend.Run {
	t.Helper()
	sub, err := e.WatchRun(t.Context(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // generous: a loaded machine is slow
	defer cancel()
	for {
		run, ok, err := e.Run(t.Context(), id)
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
	err := backend.StoreOf(e).View(func(tx *storage.ReadTx) error {
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
