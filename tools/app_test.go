package tools_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
)

// A small app made for these tests: each behaviour of the MCP layer has a
// handler that exercises it.
type Item struct {
	Name  string `json:"name" jsonschema:"minLength=1,description=what the item is called"`
	Count int    `json:"count,omitempty"`
}

type PutIn struct {
	Key   string `json:"key" jsonschema:"minLength=1"`
	Name  string `json:"name" jsonschema:"minLength=1"`
	Count int    `json:"count,omitempty"`
}

type Secret struct {
	Value string `json:"value"`
}

type EchoIn struct {
	Text string `json:"text"`
}

type EchoOut struct {
	Text string `json:"text"`
	Len  int    `json:"len" jsonschema:"minimum=1"`
}

type StreamIn struct {
	Key     string `json:"key" jsonschema:"minLength=1"`
	N       int    `json:"n" jsonschema:"minimum=1,maximum=5000"`
	DelayMs int    `json:"delayMs,omitempty"`
	Hang    bool   `json:"hang,omitempty"` // wait for cancellation after the writes
}

type StreamOut struct {
	Text string `json:"text"`
}

var (
	items      = schema.Table[Item]("items", schema.Description("things"))
	secrets    = schema.Table[Secret]("secrets", schema.ServerOnly())
	putItem    = schema.Mutator[PutIn]("putItem", "Put an item", schema.Idempotent())
	putTwoFail = schema.Mutator[PutIn]("putTwoThenFail", "Writes two rows, then fails")
	boom       = schema.Mutator[PutIn]("boom", "Panics", schema.Destructive())
	putSecret  = schema.Mutator[PutIn]("putSecret", "Writes the secret table")
	putAndEcho = schema.Mutator[PutIn]("putAndEcho", "Puts an item and enqueues echo of its name")
	echo       = schema.Action[EchoIn, EchoOut]("echo", "Echo text with its length")
	shout      = schema.Action[EchoIn, string]("shout", "Upper-case text")
	stream     = schema.Action[StreamIn, StreamOut]("stream", "Rewrite one item n times, reporting progress and logs")
	badOut     = schema.Action[EchoIn, EchoOut]("badOut", "Returns output that breaks its schema")
	actPanic   = schema.Action[EchoIn, EchoOut]("actPanic", "Panics")
	putHidden  = schema.Mutator[PutIn]("putHidden", "Writes the secret table; internal", schema.Internal())
	hiddenEcho = schema.Action[EchoIn, EchoOut]("hiddenEcho", "Echo; internal", schema.Internal())
	putAndHide = schema.Mutator[PutIn]("putAndHide", "Puts an item and enqueues an internal action")
	hideByAct  = schema.Action[PutIn, EchoOut]("hideByAction", "Writes the secret table through an internal mutator, and reads it back")
	appSchema  = schema.MustDefine(1, items, secrets, putItem, putTwoFail, boom, putSecret, putAndEcho, echo, shout, stream, badOut, actPanic,
		putHidden, hiddenEcho, putAndHide, hideByAct)
)

// testWait bounds what a test waits for: generous, since a loaded 2-core
// machine running -race can be many times slower than an idle one. A
// passing test never waits this long; a failing one says what was missing.
const testWait = 30 * time.Second

// app is a running engine and what its actions observed.
type app struct {
	eng       *backend.Engine
	cancelled chan string // keys of stream calls whose context ended early
	hanging   chan string // keys of stream calls now waiting to be cancelled
}

func newApp(t testing.TB, opts ...func(*backend.Options)) *app {
	t.Helper()
	a := &app{cancelled: make(chan string, 16), hanging: make(chan string, 16)}
	put := func(ctx *backend.MutatorCtx, in PutIn) error {
		return backend.TableOf(ctx, items).Set(in.Key, Item{Name: in.Name, Count: in.Count})
	}
	cfg := backend.Config{
		Schema: appSchema,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(putItem, put),
			backend.Mutator(putTwoFail, func(ctx *backend.MutatorCtx, in PutIn) error {
				if err := put(ctx, in); err != nil {
					return err
				}
				if err := put(ctx, PutIn{Key: in.Key + "-2", Name: in.Name}); err != nil {
					return err
				}
				return errors.New("refusing on purpose after two writes")
			}),
			backend.Mutator(boom, func(ctx *backend.MutatorCtx, in PutIn) error {
				_ = put(ctx, in)
				panic("user code bug")
			}),
			backend.Mutator(putAndEcho, func(ctx *backend.MutatorCtx, in PutIn) error {
				if err := put(ctx, in); err != nil {
					return err
				}
				_, err := ctx.EnqueueAction("echo", EchoIn{Text: in.Name})
				return err
			}),
			backend.Mutator(putSecret, func(ctx *backend.MutatorCtx, in PutIn) error {
				return backend.TableOf(ctx, secrets).Set(in.Key, Secret{Value: in.Name})
			}),
			backend.Mutator(putHidden, func(ctx *backend.MutatorCtx, in PutIn) error {
				return backend.TableOf(ctx, secrets).Set(in.Key, Secret{Value: in.Name})
			}),
			backend.Mutator(putAndHide, func(ctx *backend.MutatorCtx, in PutIn) error {
				if err := put(ctx, in); err != nil {
					return err
				}
				_, err := backend.Enqueue(ctx, hiddenEcho, EchoIn{Text: in.Name})
				return err
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(echo, func(ctx *backend.ActionCtx, in EchoIn) (EchoOut, error) {
				return EchoOut{Text: in.Text, Len: len(in.Text)}, nil
			}),
			backend.Action(hiddenEcho, func(ctx *backend.ActionCtx, in EchoIn) (EchoOut, error) {
				return EchoOut{Text: in.Text, Len: len(in.Text)}, nil
			}),
			backend.Action(hideByAct, func(ctx *backend.ActionCtx, in PutIn) (EchoOut, error) {
				if err := backend.Mutate(ctx, putHidden, in); err != nil {
					return EchoOut{}, err
				}
				s, _, err := backend.TableOf(ctx, secrets).Get(in.Key)
				return EchoOut{Text: s.Value, Len: len(s.Value) + 1}, err
			}),
			backend.Action(shout, func(ctx *backend.ActionCtx, in EchoIn) (string, error) {
				return strings.ToUpper(in.Text), nil
			}),
			backend.Action(stream, a.stream),
			backend.Action(badOut, func(ctx *backend.ActionCtx, in EchoIn) (EchoOut, error) {
				return EchoOut{}, nil // "len" 0 breaks its minimum of 1
			}),
			backend.Action(actPanic, func(ctx *backend.ActionCtx, in EchoIn) (EchoOut, error) {
				panic("action bug")
			}),
		},
	}
	o := backend.Options{Path: filepath.Join(t.TempDir(), "app.db"), Logger: quietLogger()}
	for _, f := range opts {
		f(&o)
	}
	eng, err := backend.Open(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	a.eng = eng
	return a
}

func (a *app) stream(ctx *backend.ActionCtx, in StreamIn) (StreamOut, error) {
	ctx.Log(slog.LevelInfo, "stream starting", "n", in.N)
	ctx.Log(slog.LevelDebug, "debug detail")
	text := ""
	for i := range in.N {
		text += fmt.Sprintf("%d ", i)
		if err := ctx.Mutate("putItem", PutIn{Key: in.Key, Name: text, Count: i + 1}); err != nil {
			if ctx.Err() != nil {
				a.cancelled <- in.Key
			}
			return StreamOut{}, err
		}
		if in.DelayMs > 0 {
			select {
			case <-time.After(time.Duration(in.DelayMs) * time.Millisecond):
			case <-ctx.Done():
				a.cancelled <- in.Key
				return StreamOut{}, ctx.Err()
			}
		}
	}
	if in.Hang {
		select {
		case a.hanging <- in.Key:
		default: // nobody is counting
		}
		<-ctx.Done()
		a.cancelled <- in.Key
		return StreamOut{}, ctx.Err()
	}
	return StreamOut{Text: text}, nil
}

func quietLogger() *slog.Logger {
	if os.Getenv("TOOLS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// serveHTTP serves a's engine on 127.0.0.1 and returns the base URL.
func serveHTTP(t testing.TB, a *app, o tools.HTTPOptions) (*tools.Server, string) {
	t.Helper()
	return serveOpts(t, a.eng, tools.Options{}, o)
}

// serveOpts is serveHTTP with server options, on any engine.
func serveOpts(t testing.TB, eng *backend.Engine, opts tools.Options, o tools.HTTPOptions) (*tools.Server, string) {
	t.Helper()
	opts.Logger = quietLogger()
	srv, err := tools.New(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ServeHTTP(ctx, "127.0.0.1:0", o, func(u string) { urlc <- u }) }()
	var base string
	select {
	case base = <-urlc:
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return srv, base
}

// era is how a test client talks: transport and protocol era.
type era struct {
	name      string
	transport string // "http" or "sse"
	legacy    bool
}

var eras = []era{
	{"http-modern", "http", false},
	{"http-legacy", "http", true},
	{"sse-legacy", "sse", true},
	{"sse-modern", "sse", false},
}

// notes collects a client's notifications.
type notes struct {
	mu   sync.Mutex
	all  []mcp.JSONRPCNotification
	wake chan struct{}
}

func (n *notes) add(x mcp.JSONRPCNotification) {
	n.mu.Lock()
	n.all = append(n.all, x)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notes) byMethod(method string) []mcp.JSONRPCNotification {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []mcp.JSONRPCNotification
	for _, x := range n.all {
		if x.Method == method {
			out = append(out, x)
		}
	}
	return out
}

// waitFor polls until cond holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// connect starts an initialized mcp-go client of era e against base.
func connect(t testing.TB, base string, e era, headers map[string]string, extra ...client.ClientOption) (*client.Client, *notes) {
	t.Helper()
	var (
		tr  transport.Interface
		err error
	)
	switch e.transport {
	case "http":
		opts := []transport.StreamableHTTPCOption{transport.WithHTTPHeaders(headers)}
		if e.legacy {
			//lint:ignore SA1019 the legacy protocol era is tested on purpose
			opts = append(opts, transport.WithContinuousListening())
		}
		tr, err = transport.NewStreamableHTTP(base+tools.PathStreamable, opts...)
	case "sse":
		tr, err = transport.NewSSE(base+tools.PathSSE, transport.WithHeaders(headers))
	}
	if err != nil {
		t.Fatal(err)
	}
	return start(t, tr, e, extra...)
}

// start starts an initialized mcp-go client of era e over tr.
func start(t testing.TB, tr transport.Interface, e era, extra ...client.ClientOption) (*client.Client, *notes) {
	t.Helper()
	var copts []client.ClientOption
	if e.legacy {
		//lint:ignore SA1019 the legacy protocol era is tested on purpose
		copts = append(copts, client.WithLegacyProtocolOnly())
	}
	c := client.NewClient(tr, append(copts, extra...)...)
	n := &notes{wake: make(chan struct{}, 1)}
	c.OnNotification(n.add)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Start's context lives as long as the connection (the SSE stream).
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("%s: start: %v", e.name, err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "tools-test", Version: "1"}
	if e.legacy {
		req.Params.ProtocolVersion = mcp.ProtocolVersion20251125
	}
	if _, err := c.Initialize(ctx, req); err != nil {
		t.Fatalf("%s: initialize: %v", e.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, n
}

func call(t testing.TB, c *client.Client, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
