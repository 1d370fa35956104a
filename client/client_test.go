package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
)

// A test app: items, a server-only table of locks the client cannot see,
// and mutators made to exercise the replica.
type Item struct {
	Name  string `json:"name" jsonschema:"minLength=1"`
	Count int    `json:"count,omitempty"`
}

type PutIn struct {
	Key      string `json:"key" jsonschema:"minLength=1"`
	Name     string `json:"name" jsonschema:"minLength=1"`
	SlowMs   int    `json:"slowMs,omitempty"` // the server takes this long
	Count    int    `json:"count,omitempty"`
	Restrict bool   `json:"restrict,omitempty"`
}

type KeyIn struct {
	Key string `json:"key" jsonschema:"minLength=1"`
}

type Lock struct {
	By string `json:"by"`
}

type StreamIn struct {
	Key string `json:"key" jsonschema:"minLength=1"`
	N   int    `json:"n" jsonschema:"minimum=1"`
	Ms  int    `json:"ms,omitempty"`
}

type StreamOut struct {
	Text string `json:"text"`
}

var (
	items   = schema.Table[Item]("items")
	notes   = schema.Table[Item]("notes", schema.Description("a second client table, rarely written"))
	locks   = schema.Table[Lock]("locks", schema.ServerOnly())
	put     = schema.Mutator[PutIn]("put", "Put an item; restrict: refuse if the server holds a lock on the key")
	bump    = schema.Mutator[KeyIn]("bump", "Add one to an item's count")
	lockKey = schema.Mutator[KeyIn]("lock", "Lock a key (server-only table)")
	stream  = schema.Action[StreamIn, StreamOut]("stream", "Grow an item's name n times")
	rename  = schema.Mutator[PutIn]("rename", "Alias of put used by the stream action")
	explode = schema.Mutator[KeyIn]("explode", "Panic: a server bug")
	app     = schema.MustDefine(1, items, notes, locks, put, bump, lockKey, stream, rename, explode)
)

func putItem(ctx *backend.MutatorCtx, in PutIn) error {
	if in.SlowMs > 0 && ctx.IsServer() {
		time.Sleep(time.Duration(in.SlowMs) * time.Millisecond)
	}
	if in.Restrict {
		if _, locked, err := backend.TableOf(ctx, locks).Get(in.Key); err != nil {
			return err
		} else if locked {
			return errors.New("the key " + in.Key + " is locked")
		}
	}
	return backend.TableOf(ctx, items).Set(in.Key, Item{Name: in.Name, Count: in.Count})
}

func config() backend.Config {
	return backend.Config{
		Schema: app,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(put, putItem),
			backend.Mutator(rename, putItem),
			backend.Mutator(bump, func(ctx *backend.MutatorCtx, in KeyIn) error {
				t := backend.TableOf(ctx, items)
				it, _, err := t.Get(in.Key)
				if err != nil {
					return err
				}
				it.Count++
				if it.Name == "" {
					it.Name = in.Key
				}
				return t.Set(in.Key, it)
			}),
			backend.Mutator(lockKey, func(ctx *backend.MutatorCtx, in KeyIn) error {
				return backend.TableOf(ctx, locks).Set(in.Key, Lock{By: "server"})
			}),
			backend.Mutator(explode, func(*backend.MutatorCtx, KeyIn) error { panic("explode was called") }),
		},
		Actions: []backend.ActionImpl{
			backend.Action(stream, func(ctx *backend.ActionCtx, in StreamIn) (StreamOut, error) {
				text := ""
				for i := range in.N {
					text += string(rune('a' + i%26))
					if err := ctx.Mutate("rename", PutIn{Key: in.Key, Name: text, Count: i + 1}); err != nil {
						return StreamOut{}, err
					}
					if in.Ms > 0 {
						time.Sleep(time.Duration(in.Ms) * time.Millisecond)
					}
				}
				return StreamOut{Text: text}, nil
			}),
		},
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// server is the test app served over streamable HTTP on 127.0.0.1, with a
// switch to drop the reply of the next push and a way to cut every
// connection.
type server struct {
	eng      *backend.Engine
	url      string
	dropPush atomic.Bool
	pushes   atomic.Int64
	reads    atomic.Int64 // _sync_changes calls
	delay    atomic.Int64 // how long subscription requests take to reach the server (ns), as over a slow network
	ts       *tools.Server
	srv      *httptest.Server
}

func newServer(t testing.TB) *server {
	t.Helper()
	eng, err := backend.Open(config(), backend.Options{Path: filepath.Join(t.TempDir(), "srv.db"), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	ts, err := tools.New(eng, tools.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Close)
	s := &server{eng: eng, ts: ts}
	h := ts.HTTPHandler(tools.HTTPOptions{})
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(`"_sync_changes"`)) {
			s.reads.Add(1)
		}
		if d := s.delay.Load(); d > 0 && (bytes.Contains(body, []byte(`"subscriptions/listen"`)) || bytes.Contains(body, []byte(`"resources/subscribe"`))) {
			time.Sleep(time.Duration(d))
		}
		if bytes.Contains(body, []byte(`"_sync_push"`)) {
			s.pushes.Add(1)
			if s.dropPush.CompareAndSwap(true, false) {
				// The server applies the push; the client never hears back.
				h.ServeHTTP(httptest.NewRecorder(), r)
				if hj, ok := w.(http.Hijacker); ok {
					if conn, _, err := hj.Hijack(); err == nil {
						conn.Close()
						return
					}
				}
				panic(http.ErrAbortHandler)
			}
		}
		h.ServeHTTP(w, r)
	}))
	s.srv.EnableHTTP2 = false
	t.Cleanup(s.srv.Close)
	s.url = s.srv.URL + tools.PathStreamable
	return s
}

// cut closes every client connection, as a network failure would.
func (s *server) cut() { s.srv.CloseClientConnections() }

func dial(t *testing.T, s *server, legacy bool) *client.Conn {
	t.Helper()
	c, err := client.DialHTTP(context.Background(), s.url, client.Options{Legacy: legacy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func replica(t *testing.T, c *client.Conn) *client.Replica {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	r, err := client.NewReplica(ctx, c, config(), client.ReplicaOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// testWait bounds what a test waits for: generous, since a loaded 2-core
// machine running -race can be many times slower than an idle one (10 s
// was once too little for TestReplicasConverge). A passing test never waits
// this long; a failing one says what was still missing.
const testWait = 60 * time.Second

// testCtx ends after testWait.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return ctx
}

// settle waits for r's pending mutations, failing with how many the server
// had still not confirmed.
func settle(t *testing.T, ctx context.Context, r *client.Replica, name string) {
	t.Helper()
	if err := r.Settled(ctx); err != nil {
		t.Fatalf("replica %s: %d mutation(s) still unconfirmed: %v", name, client.Unconfirmed(r), err)
	}
}

func serverItem(t *testing.T, s *server, key string) (Item, bool) {
	t.Helper()
	raw, ok, _, err := s.eng.Get(t.Context(), "items", key)
	if err != nil {
		t.Fatal(err)
	}
	var it Item
	if ok {
		_ = json.Unmarshal(raw, &it)
	}
	return it, ok
}

func TestTypedCallsAndErrors(t *testing.T) {
	s := newServer(t)
	for _, legacy := range []bool{false, true} {
		c := dial(t, s, legacy)
		ctx := testCtx(t)
		res, err := client.Mutate(ctx, c, put, PutIn{Key: "a", Name: "apple"})
		if err != nil || res.Version == 0 {
			t.Fatalf("Mutate: %+v %v", res, err)
		}
		out, err := client.Action(ctx, c, stream, StreamIn{Key: "s", N: 3})
		if err != nil || out.Text != "abc" {
			t.Fatalf("Action: %+v %v", out, err)
		}
		var steps atomic.Int64
		if _, err := client.Action(ctx, c, stream, StreamIn{Key: "s", N: 5}, client.WithProgress(func(p, _ float64, _ string) { steps.Add(1) })); err != nil || steps.Load() == 0 {
			t.Errorf("Action with progress: %d reports, %v", steps.Load(), err)
		}
		_, err = client.Mutate(ctx, c, put, PutIn{Key: "a"})
		var ce *client.CallError
		if !errors.Is(err, client.ErrInvalidInput) || !errors.As(err, &ce) || !strings.Contains(ce.Message, "/name") {
			t.Errorf("invalid input: %v", err)
		}
		if _, err := client.Mutate(ctx, c, lockKey, KeyIn{Key: "z"}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Mutate(ctx, c, put, PutIn{Key: "z", Name: "n", Restrict: true}); !errors.Is(err, client.ErrHandler) || !strings.Contains(err.Error(), "locked") {
			t.Errorf("handler error: %v", err)
		}
		if _, err := c.Call(ctx, "noSuchTool", map[string]any{}); !errors.Is(err, client.ErrUnknown) {
			t.Errorf("unknown tool: %v", err)
		}
	}
	c := dial(t, s, false)
	c.Close()
	if _, err := client.Mutate(context.Background(), c, put, PutIn{Key: "a", Name: "b"}); !errors.Is(err, client.ErrTransport) {
		t.Errorf("call on a closed connection: %v", err)
	}
}

// TestWatchResumesAfterCut: a watcher cut off mid-stream reconnects and
// ends with the exact final text, having seen every committed change in
// order.
func TestWatchResumesAfterCut(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, false)
	ctx := testCtx(t)
	w, err := client.Watch(ctx, c, items, client.Selector{Key: "s"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	first, err := w.Next(ctx)
	if err != nil || !first.Resync || len(first.Changes) != 0 {
		t.Fatalf("first event: %+v %v", first, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.eng.Act(context.Background(), "stream", json.RawMessage(`{"key":"s","n":200,"ms":2}`))
		done <- err
	}()
	var got []Item
	cuts := 0
	for len(got) < 200 {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("after %d values: %v", len(got), err)
		}
		if ev.Resync {
			t.Fatalf("unexpected resync at %d", ev.Version)
		}
		for _, ch := range ev.Changes {
			got = append(got, ch.Value)
		}
		if len(got) >= 50*(cuts+1) && cuts < 3 {
			s.cut()
			cuts++
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, it := range got {
		if it.Count != i+1 || (i > 0 && !strings.HasPrefix(it.Name, got[i-1].Name)) {
			t.Fatalf("value %d is %+v after %+v: a change was missed or repeated", i, it, got[max(i-1, 0)])
		}
	}
	final, _ := serverItem(t, s, "s")
	if got[len(got)-1] != final || final.Count != 200 {
		t.Errorf("ended with %+v, the server has %+v", got[len(got)-1], final)
	}
}

// TestReplicaOptimisticThenConfirmed: the local value is readable before the
// server replies; then the server's state and the replica's agree.
func TestReplicaOptimisticThenConfirmed(t *testing.T) {
	s := newServer(t)
	r := replica(t, dial(t, s, false))
	ctx := testCtx(t)
	// The server takes 2 s, so that a loaded machine still reads the local
	// copy and the server's store before the server commits: that the
	// server lacks the row then proves the local apply did not wait for it.
	p, err := client.MutateLocal(ctx, r, put, PutIn{Key: "o", Name: "optimistic", SlowMs: 2000})
	if err != nil {
		t.Fatal(err)
	}
	it, ok, err := client.Get(r, items, "o")
	if err != nil || !ok || it.Name != "optimistic" {
		t.Fatalf("local read right after the mutation: %+v %v %v", it, ok, err)
	}
	if _, onServer := serverItem(t, s, "o"); onServer {
		t.Error("the server had the row before the local read was checked: either the local apply waited for the server's 2 s mutator, or the machine was too slow for the test to prove anything")
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if it, _ := serverItem(t, s, "o"); it.Name != "optimistic" {
		t.Errorf("server: %+v", it)
	}
	if it, _, _ := client.Get(r, items, "o"); it.Name != "optimistic" {
		t.Errorf("replica after confirmation: %+v", it)
	}
	// A change made by someone else arrives in the replica.
	if _, err := s.eng.Mutate(ctx, "put", json.RawMessage(`{"key":"o2","name":"from elsewhere"}`)); err != nil {
		t.Fatal(err)
	}
	waitItem(t, r, "o2", "from elsewhere")
}

// TestReplicaRejectedRollsBack: a mutation that runs fine locally but that
// the server refuses (it holds a lock the client cannot see) is rolled back
// and its error returned.
func TestReplicaRejectedRollsBack(t *testing.T) {
	s := newServer(t)
	r := replica(t, dial(t, s, false))
	ctx := testCtx(t)
	if _, err := s.eng.Mutate(ctx, "put", json.RawMessage(`{"key":"k","name":"before"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.eng.Mutate(ctx, "lock", json.RawMessage(`{"key":"k"}`)); err != nil {
		t.Fatal(err)
	}
	waitItem(t, r, "k", "before")
	p, err := client.MutateLocal(ctx, r, put, PutIn{Key: "k", Name: "mine", Restrict: true, SlowMs: 100})
	if err != nil {
		t.Fatal(err)
	}
	if it, _, _ := client.Get(r, items, "k"); it.Name != "mine" {
		t.Fatalf("the optimistic value is not visible: %+v", it)
	}
	err = p.Wait(ctx)
	if !errors.Is(err, client.ErrHandler) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Wait: %v, want the server's 'locked' error", err)
	}
	if it, _, _ := client.Get(r, items, "k"); it.Name != "before" {
		t.Errorf("after the rejection the replica shows %+v, want the server's value back", it)
	}
	if _, err := client.MutateLocal(ctx, r, put, PutIn{Key: "k"}); !errors.Is(err, client.ErrInvalidInput) {
		t.Errorf("invalid input is refused locally: %v", err)
	}
}

func waitItem(t *testing.T, r *client.Replica, key, name string) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for {
		it, _, _ := client.Get(r, items, key)
		if it.Name == name {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the replica's row %s is %+v, want name %q", testWait, key, it, name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicasConverge: two replicas making conflicting mutations end with
// the server's order.
func TestReplicasConverge(t *testing.T) {
	s := newServer(t)
	a, b := replica(t, dial(t, s, false)), replica(t, dial(t, s, true))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for name, r := range map[string]*client.Replica{"a": a, "b": b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				if _, err := client.MutateLocal(ctx, r, put, PutIn{Key: "x", Name: name, Count: i}); err != nil {
					t.Error(err)
				}
				if _, err := client.MutateLocal(ctx, r, bump, KeyIn{Key: "n"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	settle(t, ctx, a, "a")
	settle(t, ctx, b, "b")
	want, _ := serverItem(t, s, "x")
	n, _ := serverItem(t, s, "n")
	if n.Count != 60 {
		t.Errorf("the server counted %d bumps, want 60 (each applied once)", n.Count)
	}
	for i, r := range []*client.Replica{a, b} {
		deadline := time.Now().Add(testWait)
		for {
			x, _, _ := client.Get(r, items, "x")
			y, _, _ := client.Get(r, items, "n")
			if x == want && y == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %v replica %d has x=%+v n=%+v; the server has x=%+v n=%+v", testWait, i, x, y, want, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestPushRetriedAfterLostReplyAppliesOnce: the server applies a push but
// the reply is lost; the replica reconnects, pushes again, and the server
// recognises it.
func TestPushRetriedAfterLostReplyAppliesOnce(t *testing.T) {
	s := newServer(t)
	r := replica(t, dial(t, s, false))
	ctx := testCtx(t)
	s.dropPush.Store(true)
	p, err := client.MutateLocal(ctx, r, bump, KeyIn{Key: "once"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if s.dropPush.Load() || s.pushes.Load() < 2 {
		t.Fatalf("the reply was not dropped and retried (pushes: %d)", s.pushes.Load())
	}
	if it, _ := serverItem(t, s, "once"); it.Count != 1 {
		t.Errorf("the server applied the push %d times", it.Count)
	}
	if it, _, _ := client.Get(r, items, "once"); it.Count != 1 {
		t.Errorf("the replica shows count %d", it.Count)
	}
}
