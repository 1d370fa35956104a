package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mgtransport "github.com/mark3labs/mcp-go/client/transport"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// --- connections ---

// stdioArgs is how the stdio tests start the server.
func stdioArgs(t *testing.T, extra ...string) []string {
	return append([]string{"serve", "--data", filepath.Join(t.TempDir(), "app.db"), "--ai-delay", "1ms"}, extra...)
}

var quietEnv = append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "MCP_SYNC_TOKEN=")

type clientCase struct {
	name    string
	connect func(t *testing.T, ev *events) goClient
}

// clientCases is every client × transport × protocol era.
func clientCases(t *testing.T) []clientCase {
	bin := interopBinary(t)
	base := strings.TrimSuffix(startHTTPServer(t), tools.PathStreamable)
	return []clientCase{
		{"mcp-go/stdio/modern", func(t *testing.T, ev *events) goClient {
			tr := mgtransport.NewStdioWithOptions(bin, quietEnv, stdioArgs(t))
			if err := tr.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			return newMG(t, tr, false, ev)
		}},
		{"mcp-go/stdio/legacy", func(t *testing.T, ev *events) goClient {
			tr := mgtransport.NewStdioWithOptions(bin, quietEnv, stdioArgs(t))
			if err := tr.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			return newMG(t, tr, true, ev)
		}},
		{"mcp-go/http/modern", func(t *testing.T, ev *events) goClient {
			tr, err := mgtransport.NewStreamableHTTP(base + tools.PathStreamable)
			if err != nil {
				t.Fatal(err)
			}
			return newMG(t, tr, false, ev)
		}},
		{"mcp-go/http/legacy", func(t *testing.T, ev *events) goClient {
			//lint:ignore SA1019 the legacy protocol era is tested on purpose
			tr, err := mgtransport.NewStreamableHTTP(base+tools.PathStreamable, mgtransport.WithContinuousListening())
			if err != nil {
				t.Fatal(err)
			}
			return newMG(t, tr, true, ev)
		}},
		{"mcp-go/sse/legacy", func(t *testing.T, ev *events) goClient {
			tr, err := mgtransport.NewSSE(base + tools.PathSSE)
			if err != nil {
				t.Fatal(err)
			}
			return newMG(t, tr, true, ev)
		}},
		{"go-sdk/stdio", func(t *testing.T, ev *events) goClient {
			cmd := exec.Command(bin, stdioArgs(t)...)
			cmd.Env = quietEnv
			return newSDK(t, &sdk.CommandTransport{Command: cmd}, "", ev)
		}},
		{"go-sdk/http/modern", func(t *testing.T, ev *events) goClient {
			return newSDK(t, &sdk.StreamableClientTransport{Endpoint: base + tools.PathStreamable}, "", ev)
		}},
		{"go-sdk/http/legacy", func(t *testing.T, ev *events) goClient {
			return newSDK(t, &sdk.StreamableClientTransport{Endpoint: base + tools.PathStreamable}, "2025-11-25", ev)
		}},
		{"go-sdk/sse/legacy", func(t *testing.T, ev *events) goClient {
			return newSDK(t, &sdk.SSEClientTransport{Endpoint: base + tools.PathSSE}, "2025-11-25", ev)
		}},
	}
}

func mustCall(t *testing.T, c goClient, name string, args any) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.call(ctx, name, args, nil)
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return r
}

func getTodo(t *testing.T, c goClient, id string) (todo.Todo, bool, uint64) {
	t.Helper()
	r := mustCall(t, c, "get_row", map[string]any{"table": "todos", "key": id})
	var out struct {
		Found   bool
		Value   todo.Todo
		Version uint64
	}
	if r.isError || json.Unmarshal([]byte(r.text), &out) != nil {
		t.Fatalf("get_row %s: %+v", id, r)
	}
	return out.Value, out.Found, out.Version
}

// TestGoClients runs the same checks with mcp-go's client and the official
// Go SDK's, over stdio, streamable HTTP and SSE, on both protocol eras,
// against the real binary.
func TestGoClients(t *testing.T) {
	for _, cc := range clientCases(t) {
		t.Run(cc.name, func(t *testing.T) {
			ev := newEvents()
			c := cc.connect(t, ev)
			defer c.close()
			ctx := context.Background()
			id := strings.NewReplacer("/", "-").Replace(cc.name)

			// Every surface, and no sign of the server-only table.
			all, err := c.listings(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`"setTodo"`, `"generateWithAI"`, `"get_row"`, `"mcp-sync://table/todos"`} {
				if !strings.Contains(all, want) {
					t.Errorf("listings lack %s", want)
				}
			}
			if strings.Contains(all, "secrets") {
				t.Errorf("listings mention the server-only table: %s", all)
			}
			hidden := mustCall(t, c, "list_rows", map[string]any{"table": "secrets"})
			absent := mustCall(t, c, "list_rows", map[string]any{"table": "nosuch"})
			if !hidden.isError || strings.ReplaceAll(hidden.text, "secrets", "nosuch") != absent.text {
				t.Errorf("the server-only table answers unlike a missing one: %q vs %q", hidden.text, absent.text)
			}
			if _, err := c.read(ctx, wire.TableURI("secrets")); err == nil {
				t.Error("reading the server-only table's resource worked")
			}

			// A mutator; invalid input writes nothing.
			r := mustCall(t, c, "setTodo", map[string]any{"id": id, "text": "first", "completed": false})
			if r.isError || !strings.Contains(string(r.structured), `"version"`) {
				t.Fatalf("setTodo: %+v", r)
			}
			r = mustCall(t, c, "setTodo", map[string]any{"id": id + "-bad", "text": "x", "completed": "yes"})
			if !r.isError || !strings.Contains(r.text, "/completed") {
				t.Errorf("invalid input: want isError naming /completed, got %+v", r)
			}
			if _, found, _ := getTodo(t, c, id+"-bad"); found {
				t.Error("an invalid call wrote its row")
			}

			// A subscriber sees the row's changes; re-reading on each update
			// ends on the exact final value.
			row := wire.RowURI("todos", id)
			if err := c.subscribe(ctx, row); err != nil {
				t.Fatal(err)
			}
			untilNotified(t, c, ev, id, row)
			gen := id + "-gen"
			genURI := wire.RowURI("todos", gen)
			if err := c.subscribe(ctx, genURI); err != nil {
				t.Fatal(err)
			}
			// The generation takes a few ms: have the subscription live
			// first (a listen stream opens in the background), then free
			// the id for createAndGenerate.
			untilNotified(t, c, ev, gen, genURI)
			mustCall(t, c, "deleteTodo", map[string]any{"id": gen})
			r = mustCall(t, c, "createAndGenerate", map[string]any{"id": gen, "prompt": "plan a picnic"})
			var created struct{ Runs []string }
			if r.isError || json.Unmarshal(r.structured, &created) != nil || len(created.Runs) != 1 {
				t.Fatalf("createAndGenerate: %+v", r)
			}
			var texts []string
			seen := 0
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				select {
				case <-ev.wake:
				case <-time.After(50 * time.Millisecond):
				}
				if n := ev.updates(genURI); n == seen {
					continue
				} else {
					seen = n
				}
				txt, err := c.read(ctx, genURI)
				if err != nil {
					continue // the deletion's update, read after it: no row yet
				}
				var v todo.Todo
				_ = json.Unmarshal([]byte(txt), &v)
				if len(texts) == 0 || texts[len(texts)-1] != v.Text {
					texts = append(texts, v.Text)
				}
				if v.Status == todo.StatusReady {
					break
				}
			}
			final, _, _ := getTodo(t, c, gen)
			var rec struct {
				Status string
				Output struct{ Text string }
			}
			var run result
			waitUntil(testWait, func() bool { // the run is marked after its last write
				run = mustCall(t, c, "get_run", map[string]any{"id": created.Runs[0]})
				_ = json.Unmarshal([]byte(run.text), &rec)
				return rec.Status == "succeeded"
			})
			if final.Status != todo.StatusReady || len(texts) == 0 || texts[len(texts)-1] != final.Text || rec.Output.Text != final.Text || rec.Status != "succeeded" {
				t.Fatalf("watched %d values ending %q; final row %+v; run %s", len(texts), texts[max(len(texts)-1, 0):], final, run.text)
			}
			for i := 1; i < len(texts); i++ {
				if !strings.HasPrefix(texts[i], texts[i-1]) {
					t.Fatalf("value %d %q is not a continuation of %q", i, texts[i], texts[i-1])
				}
			}

			// An action with progress: one report per ctx.Mutate, the last
			// included, for several calls in a row.
			calls := 5
			if cc.name == "go-sdk/http/modern" || cc.name == "go-sdk/sse/legacy" {
				calls = 50
			}
			for i := range calls {
				key := fmt.Sprintf("%s-p%d", id, i)
				mustCall(t, c, "setTodo", map[string]any{"id": key, "text": "", "completed": false})
				_, _, before := getTodo(t, c, key)
				token := fmt.Sprintf("tok-%s-%d", id, i)
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				r, err := c.call(cctx, "generateWithAI", map[string]any{"id": key, "prompt": "p"}, token)
				cancel()
				if err != nil || r.isError {
					t.Fatalf("generateWithAI: %v %+v", err, r)
				}
				_, _, after := getTodo(t, c, key)
				commits := int(after - before) // nothing else writes meanwhile on this server…
				if !strings.Contains(cc.name, "stdio") {
					commits = 0 // …but the HTTP server is shared by the parallel subtests
				}
				if !waitUntil(testWait, func() bool {
					p := ev.progressOf(token)
					return len(p) > 1 && (commits == 0 || len(p) == commits)
				}) {
					t.Fatalf("call %d: progress %v %v after the result, want one per commit (%d)", i, ev.progressOf(token), testWait, commits)
				}
				p := ev.progressOf(token)
				for j, v := range p {
					if v != float64(j+1) && !strings.Contains(cc.name, "http/legacy") {
						t.Fatalf("call %d: progress %v is not 1..n", i, p)
					}
				}
			}
		})
	}
}

// untilNotified writes the todo id until an update for uri arrives: a
// subscription just made may take a while to be live (a 2026-07-28 listen
// stream opens in the background), longer on a loaded machine.
func untilNotified(t *testing.T, c goClient, ev *events, id, uri string) {
	t.Helper()
	before := ev.updates(uri)
	i := 0
	for deadline := time.Now().Add(testWait); time.Now().Before(deadline); i++ {
		mustCall(t, c, "setTodo", map[string]any{"id": id, "text": fmt.Sprint("wait ", i), "completed": false})
		if waitUntil(100*time.Millisecond, func() bool { return ev.updates(uri) > before }) {
			return
		}
	}
	t.Fatalf("no update for the subscribed %s after %d writes in %v", uri, i, testWait)
}

// testWait bounds what a test waits for: generous, since a loaded 2-core
// machine running -race can be many times slower than an idle one. A
// passing test never waits this long; a failing one says what was missing.
const testWait = 30 * time.Second

// waitUntil polls until cond holds or d passes, and reports whether it held.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// TestGoClientCancelStopsAction: cancelling a streaming call stops the
// stream, and the row ends with status error and the text so far.
func TestGoClientCancelStopsAction(t *testing.T) {
	bin := interopBinary(t)
	base := strings.TrimSuffix(startHTTPServer(t, "--ai-delay", "100ms"), tools.PathStreamable)
	cases := map[string]func(t *testing.T) goClient{
		"go-sdk/http": func(t *testing.T) goClient {
			return newSDK(t, &sdk.StreamableClientTransport{Endpoint: base + tools.PathStreamable}, "", newEvents())
		},
		"mcp-go/stdio": func(t *testing.T) goClient {
			tr := mgtransport.NewStdioWithOptions(bin, quietEnv, stdioArgs(t, "--ai-delay", "100ms"))
			if err := tr.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			return newMG(t, tr, false, newEvents())
		},
	}
	for name, connect := range cases {
		t.Run(name, func(t *testing.T) {
			c := connect(t)
			defer c.close()
			id := "cancel-" + strings.ReplaceAll(name, "/", "-")
			mustCall(t, c, "setTodo", map[string]any{"id": id, "text": "", "completed": false})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := c.call(ctx, "generateWithAI", map[string]any{"id": id, "prompt": "p"}, nil)
				errc <- err
			}()
			// Cancelled once the stream is under way (a chunk every 100 ms,
			// about 3 s in all), however long a loaded machine takes to
			// get there.
			var row todo.Todo
			if !waitUntil(testWait, func() bool { row, _, _ = getTodo(t, c, id); return row.Text != "" }) {
				t.Fatalf("%v after the call, the row is %+v; want some text streamed", testWait, row)
			}
			cancel()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("the cancelled call returned no error")
				}
			case <-time.After(testWait):
				t.Fatalf("the cancelled call had not returned %v later", testWait)
			}
			if !waitUntil(testWait, func() bool { row, _, _ = getTodo(t, c, id); return row.Status == todo.StatusError }) {
				t.Fatalf("%v after cancelling, the row is %+v; want status error", testWait, row)
			}
			time.Sleep(300 * time.Millisecond)
			if again, _, _ := getTodo(t, c, id); again.Text != row.Text || row.Text == "" {
				t.Errorf("the text kept growing after the cancel (%q → %q), or none was kept", row.Text, again.Text)
			}
		})
	}
}

// TestGoClientBearerToken: a server with a token refuses clients without it.
func TestGoClientBearerToken(t *testing.T) {
	base := strings.TrimSuffix(startHTTPServer(t, "--token", "s3cret"), tools.PathStreamable)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "no-token", Version: "1"}, nil)
	if s, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: base + tools.PathStreamable, MaxRetries: -1}, nil); err == nil {
		s.Close()
		t.Fatal("connected without the token")
	}
	withToken := &http.Client{Transport: bearer{"s3cret"}}
	s := newSDK(t, &sdk.StreamableClientTransport{Endpoint: base + tools.PathStreamable, HTTPClient: withToken}, "", newEvents())
	defer s.close()
	if r := mustCall(t, s, "setTodo", map[string]any{"id": "t", "text": "x", "completed": false}); r.isError {
		t.Fatalf("with the token: %+v", r)
	}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}
