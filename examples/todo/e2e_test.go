package todo_test

// End-to-end tests: the todo app's engine served over MCP streamable HTTP,
// called by an mcp-go client, with generateWithAI going through the real
// go-openai code path (ai.OpenAI) to the localai server over real HTTP on
// 127.0.0.1, and bbolt in a temporary directory.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

const testKey = "sk-e2e-test-key"

// stack is one running system: localai, the engine with an ai.OpenAI
// provider pointed at it, and the MCP server in front of the engine.
type stack struct {
	llm  *localai.Server
	eng  *backend.Engine
	base string // the MCP server's base URL
}

// startStack starts localai with lopts, an engine with eopts (Path and Logger
// filled in) whose provider sends key, and the MCP server. Everything stops
// when t ends: the client first, then the MCP server, the engine, localai.
func startStack(t *testing.T, lopts localai.Options, key string, eopts backend.Options) *stack {
	t.Helper()
	llm, err := localai.Start(lopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { llm.Close() })
	p, err := ai.NewOpenAI(ai.Config{BaseURL: llm.URL(), Model: localai.DefaultModel, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	eopts.Path = filepath.Join(t.TempDir(), "todo.db")
	eopts.Logger = slog.New(slog.DiscardHandler)
	eng, err := backend.Open(todo.Config(p, func(string) string { return "" }), eopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })

	srv, err := tools.New(eng, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ServeHTTP(ctx, "127.0.0.1:0", tools.HTTPOptions{}, func(u string) { urlc <- u }) }()
	var base string
	select {
	case base = <-urlc:
	case err := <-done:
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &stack{llm: llm, eng: eng, base: base}
}

// connectMCP starts an initialized modern-era streamable HTTP client;
// onNote, when set, receives its notifications.
func connectMCP(t *testing.T, base string, onNote func(mcp.JSONRPCNotification)) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(base + tools.PathStreamable)
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr)
	if onNote != nil {
		c.OnNotification(onNote)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "todo-e2e", Version: "1"}
	if _, err := c.Initialize(ctx, req); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return c
}

func callTool(ctx context.Context, c *client.Client, name string, args any) (*mcp.CallToolResult, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	return c.CallTool(ctx, req)
}

// mustCall calls a tool that must succeed.
func mustCall(t *testing.T, c *client.Client, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := callTool(ctx, c, name, args)
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("call %s: isError: %s", name, resultText(res))
	}
	return res
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// readRow reads the todo's row resource over MCP.
func readRow(ctx context.Context, c *client.Client, id string) (todo.Todo, error) {
	res, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: wire.RowURI("todos", id)}})
	if err != nil {
		return todo.Todo{}, err
	}
	if len(res.Contents) != 1 {
		return todo.Todo{}, fmt.Errorf("%d contents", len(res.Contents))
	}
	tc, ok := res.Contents[0].(mcp.TextResourceContents)
	if !ok {
		return todo.Todo{}, fmt.Errorf("contents of type %T", res.Contents[0])
	}
	var row todo.Todo
	err = json.Unmarshal([]byte(tc.Text), &row)
	return row, err
}

// engineRow reads the todo straight from the engine.
func engineRow(t *testing.T, eng *backend.Engine, id string) todo.Todo {
	t.Helper()
	raw, ok, _, err := eng.Get(t.Context(), "todos", id)
	if err != nil || !ok {
		t.Fatalf("get %s: ok=%v err=%v", id, ok, err)
	}
	var row todo.Todo
	if err := json.Unmarshal(raw, &row); err != nil {
		t.Fatal(err)
	}
	return row
}

// poll calls cond every 5 ms until it holds or d passes.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// testWait bounds what a test waits for: generous, since a loaded 2-core
// machine running -race can be many times slower than an idle one. A
// passing test never waits this long; a failing one says what was missing.
const testWait = 30 * time.Second

// waitRun waits for an enqueued run to finish.
func waitRun(t *testing.T, eng *backend.Engine, id string) *backend.Run {
	t.Helper()
	var run *backend.Run
	if !poll(testWait, func() bool {
		r, ok, err := eng.Run(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		run = r
		return ok && r.Done()
	}) {
		t.Fatalf("run %s not done after %v: %+v", id, testWait, run)
	}
	return run
}

// runIDs returns the runs a mutator call enqueued.
func runIDs(t *testing.T, res *mcp.CallToolResult) []string {
	t.Helper()
	var out struct {
		Version uint64   `json:"version"`
		Runs    []string `json:"runs"`
	}
	if err := json.Unmarshal([]byte(resultText(res)), &out); err != nil {
		t.Fatalf("mutator result %q: %v", resultText(res), err)
	}
	return out.Runs
}

// runeText returns n runes of sentence repeated: with localai's Chunks set to
// n, each chunk is exactly one rune.
func runeText(sentence string, n int) []rune {
	r := []rune(strings.Repeat(sentence, n/len([]rune(sentence))+1))
	return r[:n]
}

// rowWatcher is an MCP subscriber that re-reads the row on every
// notifications/resources/updated for it, until it reads a final status.
type rowWatcher struct {
	uri, probe string
	dirty      chan struct{}
	probed     atomic.Bool
	updates    atomic.Int64

	mu   sync.Mutex
	vals []todo.Todo
	err  error
	done chan struct{}
}

func newRowWatcher(id, probeID string) *rowWatcher {
	return &rowWatcher{
		uri:   wire.RowURI("todos", id),
		probe: wire.RowURI("todos", probeID),
		dirty: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
}

// note is the client's notification handler: it only flags, so the transport
// is never held up by a read.
func (w *rowWatcher) note(n mcp.JSONRPCNotification) {
	if n.Method != string(mcp.MethodNotificationResourceUpdated) {
		return
	}
	switch uri, _ := n.Params.AdditionalFields["uri"].(string); uri {
	case w.probe:
		w.probed.Store(true)
	case w.uri:
		w.updates.Add(1)
		select {
		case w.dirty <- struct{}{}:
		default:
		}
	}
}

// run re-reads the row after each update until a final status or ctx ends.
func (w *rowWatcher) run(ctx context.Context, c *client.Client, id string) {
	defer close(w.done)
	for {
		select {
		case <-w.dirty:
		case <-ctx.Done():
			return
		}
		row, err := readRow(ctx, c, id)
		w.mu.Lock()
		if err != nil {
			w.err = err
			w.mu.Unlock()
			return
		}
		w.vals = append(w.vals, row)
		w.mu.Unlock()
		if row.Status == todo.StatusReady || row.Status == todo.StatusError {
			return
		}
	}
}

// TestE2EStream500Chunks streams a 500-chunk answer from localai through
// go-openai into a todo created over MCP with createAndGenerate, watched by a
// Go subscriber (every commit) and an MCP subscriber (coalesced re-reads).
func TestE2EStream500Chunks(t *testing.T) {
	const n = 500
	runes := runeText("Buy café crème, œufs and bread — then call Zoë. ", n)
	full := string(runes)
	s := startStack(t, localai.Options{Chunks: n, Text: full}, testKey, backend.Options{})

	const id, probeID = "big", "probe"
	w := newRowWatcher(id, probeID)
	c := connectMCP(t, s.base, w.note)

	// The MCP subscription: one listen stream for the row and a probe row,
	// live once a write to the probe is notified.
	lctx, lcancel := context.WithCancel(context.Background())
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		_ = c.Listen(lctx, mcp.SubscriptionFilter{ResourceSubscriptions: []string{w.uri, w.probe}})
	}()
	t.Cleanup(func() { lcancel(); <-listened })
	for i, deadline := 0, time.Now().Add(testWait); !w.probed.Load(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the listen stream delivered no update for the probe row after %d writes in %v", i, testWait)
		}
		mustCall(t, c, "setTodo", map[string]any{"id": probeID, "text": fmt.Sprint("probe ", i), "completed": false})
		poll(100*time.Millisecond, w.probed.Load)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 2*testWait)
	defer wcancel()
	go w.run(wctx, c, id)

	// The Go subscriber, from the version before the call.
	sub, err := s.eng.Subscribe(t.Context(), backend.Filter{Table: "todos", Key: id}, s.eng.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	start := time.Now()
	res := mustCall(t, c, "createAndGenerate", map[string]any{"id": id, "prompt": "shopping"})
	runs := runIDs(t, res)
	if len(runs) != 1 {
		t.Fatalf("createAndGenerate enqueued runs %v, want one", runs)
	}

	// Every committed value: the placeholder, one per chunk, then ready.
	seen := watchRow(t, sub)
	if len(seen) != n+2 {
		t.Fatalf("Go subscriber saw %d values, want %d: placeholder + %d chunks + ready", len(seen), n+2, n)
	}
	if p := seen[0]; p.Text != "" || p.Status != todo.StatusGenerating {
		t.Errorf("placeholder = %+v", p)
	}
	for i, row := range seen[1 : n+1] {
		if want := string(runes[:i+1]); row.Text != want || row.Status != todo.StatusGenerating {
			t.Fatalf("value %d = %q (%s), want %q generating", i+1, row.Text, row.Status, want)
		}
	}
	for i := 1; i < len(seen); i++ {
		if !strings.HasPrefix(seen[i].Text, seen[i-1].Text) {
			t.Fatalf("value %d %q is not a prefix of value %d %q", i-1, seen[i-1].Text, i, seen[i].Text)
		}
	}
	if last := seen[n+1]; last.Text != full || last.Status != todo.StatusReady {
		t.Errorf("last value = %q (%s), want the full text, ready", last.Text, last.Status)
	}

	// The MCP subscriber ends on the final value, having read only values
	// that grow.
	select {
	case <-w.done:
	case <-time.After(testWait):
		t.Fatalf("the MCP subscriber did not read the final value within %v of the Go subscriber", testWait)
	}
	w.mu.Lock()
	vals, werr := w.vals, w.err
	w.mu.Unlock()
	if werr != nil {
		t.Fatalf("MCP subscriber: %v", werr)
	}
	if len(vals) == 0 {
		t.Fatal("MCP subscriber read nothing")
	}
	for i := 1; i < len(vals); i++ {
		if !strings.HasPrefix(vals[i].Text, vals[i-1].Text) {
			t.Fatalf("MCP read %d %q is not a prefix of read %d %q", i-1, vals[i-1].Text, i, vals[i].Text)
		}
	}
	for i, v := range vals[:len(vals)-1] {
		if v.Status != todo.StatusGenerating {
			t.Fatalf("MCP read %d has status %q before the end", i, v.Status)
		}
	}
	if last := vals[len(vals)-1]; last.Text != full || last.Status != todo.StatusReady {
		t.Errorf("MCP subscriber's last read = %q (%s), want the full text, ready", last.Text, last.Status)
	}

	// The run record.
	run := waitRun(t, s.eng, runs[0])
	var out todo.GenerateOutput
	if run.Status != backend.RunSucceeded || json.Unmarshal(run.Output, &out) != nil || out.Text != full {
		t.Errorf("run = %s %s error %q, want succeeded with the full text", run.Status, run.Output, run.Error)
	}
	if run.Attempts != 1 {
		t.Errorf("run took %d attempts", run.Attempts)
	}
	ex, ok := s.llm.Last()
	if !ok || ex.Outcome != localai.OutcomeCompleted || ex.Chunks != n || ex.APIKey != testKey || !ex.Stream || ex.Prompt() != "shopping" {
		t.Errorf("localai exchange = %+v", ex)
	}
	t.Logf("%d chunks in %v; the MCP subscriber got %d updates and read %d values",
		n, time.Since(start).Round(time.Millisecond), w.updates.Load(), len(vals))
}

// failText is what localai streams in the failure cases: one rune per chunk,
// so the text before a failure after 5 chunks is "Water".
const failText = "Water the plants now"
