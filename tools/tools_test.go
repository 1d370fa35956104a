package tools_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

func TestToolsListFromSchema(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, base, e, nil)
			res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]mcp.Tool{}
			for _, tl := range res.Tools {
				got[tl.Name] = tl
			}
			for _, name := range []string{"putItem", "putTwoThenFail", "boom", "putSecret", "echo", "shout", "stream", "get_row", "list_rows", "get_run"} {
				if _, ok := got[name]; !ok {
					t.Errorf("tools/list lacks %s", name)
				}
			}
			raw, _ := json.Marshal(res)
			if strings.Contains(string(raw), "secrets") {
				t.Errorf("tools/list mentions the server-only table: %s", raw)
			}
			var schemaOf = func(name string) map[string]any {
				b, _ := json.Marshal(got[name])
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				return m
			}
			put := schemaOf("putItem")
			in := put["inputSchema"].(map[string]any)
			if in["type"] != "object" || in["$ref"] != nil || in["properties"].(map[string]any)["key"] == nil {
				t.Errorf("putItem inputSchema is not a flat object schema: %v", in)
			}
			if put["outputSchema"] == nil {
				t.Error("mutator tool has no outputSchema for its {version} result")
			}
			ann := got["putItem"].Annotations
			if *ann.ReadOnlyHint || *ann.DestructiveHint || !*ann.IdempotentHint || *ann.OpenWorldHint {
				t.Errorf("putItem hints: readOnly=%v destructive=%v idempotent=%v openWorld=%v", *ann.ReadOnlyHint, *ann.DestructiveHint, *ann.IdempotentHint, *ann.OpenWorldHint)
			}
			if !*got["boom"].Annotations.DestructiveHint {
				t.Error("boom is declared destructive but its hint is not")
			}
			if !*got["echo"].Annotations.OpenWorldHint || *got["echo"].Annotations.ReadOnlyHint {
				t.Error("actions must be open-world and not read-only")
			}
			if schemaOf("echo")["outputSchema"] == nil {
				t.Error("struct-output action has no outputSchema")
			}
			if schemaOf("shout")["outputSchema"] != nil {
				t.Error("text-output action has an outputSchema")
			}
			if !*got["get_row"].Annotations.ReadOnlyHint {
				t.Error("get_row is not read-only")
			}
		})
	}
}

func TestMutatorCalls(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		a := newApp(t, drv)
		_, base := serveHTTP(t, a, tools.HTTPOptions{})
		for i, e := range eras {
			t.Run(e.name, func(t *testing.T) {
				c, _ := connect(t, base, e, nil)
				key := e.name
				res := call(t, c, "putItem", map[string]any{"key": key, "name": "first", "count": i})
				if res.IsError {
					t.Fatalf("putItem failed: %s", text(res))
				}
				var out struct{ Version uint64 }
				b, _ := json.Marshal(res.StructuredContent)
				if err := json.Unmarshal(b, &out); err != nil || out.Version == 0 || out.Version != a.eng.Version() {
					t.Fatalf("putItem result %s: want the committed version %d", b, a.eng.Version())
				}

				before := a.eng.Version()
				res = call(t, c, "putItem", map[string]any{"key": key, "name": 42})
				if !res.IsError || !strings.Contains(text(res), "/name") || !strings.Contains(text(res), "Nothing was written") {
					t.Errorf("wrong-type input: want isError naming /name, got %v %q", res.IsError, text(res))
				}
				res = call(t, c, "putItem", map[string]any{"name": "no key"})
				if !res.IsError || !strings.Contains(text(res), "key") {
					t.Errorf("missing field: want isError naming key, got %q", text(res))
				}
				res = call(t, c, "putTwoThenFail", map[string]any{"key": key + "-x", "name": "n"})
				if !res.IsError || !strings.Contains(text(res), "refusing on purpose") {
					t.Errorf("handler error: want isError with its message, got %q", text(res))
				}
				res = call(t, c, "boom", map[string]any{"key": key + "-boom", "name": "n"})
				if !res.IsError || !strings.Contains(text(res), "internal error (ref ") || strings.Contains(text(res), "user code bug") {
					t.Errorf("panicking mutator: want isError with a reference and not the panic value, got %q", text(res))
				}
				if v := a.eng.Version(); v != before {
					t.Errorf("failed calls changed the version from %d to %d", before, v)
				}
				for _, k := range []string{key + "-x", key + "-x-2", key + "-boom"} {
					if _, ok, _, _ := a.eng.Get(t.Context(), "items", k); ok {
						t.Errorf("row %s was written by a failed call", k)
					}
				}
				// Still serving, and the first write is intact.
				res = call(t, c, "get_row", map[string]any{"table": "items", "key": key})
				if res.IsError || !strings.Contains(text(res), `"first"`) {
					t.Errorf("get_row after failures: %q", text(res))
				}

				req := mcp.CallToolRequest{}
				req.Params.Name = "noSuchTool"
				if _, err := c.CallTool(context.Background(), req); err == nil {
					t.Error("an unknown tool must be a protocol error")
				}
			})
		}
	})
}

func TestActionCalls(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, base, e, nil)
			res := call(t, c, "echo", map[string]any{"text": "héllo"})
			if res.IsError {
				t.Fatal(text(res))
			}
			b, _ := json.Marshal(res.StructuredContent)
			if string(b) != `{"len":6,"text":"héllo"}` || text(res) != `{"text":"héllo","len":6}` {
				t.Errorf("echo: structured %s, text %q", b, text(res))
			}
			res = call(t, c, "shout", map[string]any{"text": "abc"})
			if res.IsError || text(res) != "ABC" || res.StructuredContent != nil {
				t.Errorf("shout: %q structured=%v", text(res), res.StructuredContent)
			}
			res = call(t, c, "badOut", map[string]any{"text": "x"})
			if !res.IsError || !strings.Contains(text(res), "output") {
				t.Errorf("badOut: want isError about the output, got %q", text(res))
			}
			res = call(t, c, "actPanic", map[string]any{"text": "x"})
			if !res.IsError || !strings.Contains(text(res), "internal error (ref ") || strings.Contains(text(res), "action bug") {
				t.Errorf("actPanic: want a reference and not the panic value, got %q", text(res))
			}
			res = call(t, c, "echo", map[string]any{"text": 7})
			if !res.IsError || !strings.Contains(text(res), "/text") {
				t.Errorf("echo with a number: %q", text(res))
			}
			if res := call(t, c, "echo", map[string]any{"text": "still up"}); res.IsError {
				t.Errorf("server stopped serving after a panic: %q", text(res))
			}
		})
	}
}

// TestEnqueuedRunsVisible: a mutator that enqueues an action answers with
// the run's id, and get_run and the run resource report it to completion.
func TestEnqueuedRunsVisible(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, base, e, nil)
			res := call(t, c, "putAndEcho", map[string]any{"key": "r-" + e.name, "name": "echo me"})
			var out struct {
				Version uint64
				Runs    []string
			}
			b, _ := json.Marshal(res.StructuredContent)
			if err := json.Unmarshal(b, &out); err != nil || res.IsError || len(out.Runs) != 1 {
				t.Fatalf("putAndEcho: %s %q", b, text(res))
			}
			var run struct {
				Status string
				Output json.RawMessage
			}
			if !waitFor(testWait, func() bool {
				r := call(t, c, "get_run", map[string]any{"id": out.Runs[0]})
				_ = json.Unmarshal([]byte(text(r)), &run)
				return run.Status == "succeeded"
			}) {
				t.Fatalf("run %s had not succeeded %v later: %+v", out.Runs[0], testWait, run)
			}
			if string(run.Output) != `{"text":"echo me","len":7}` {
				t.Errorf("run output %s", run.Output)
			}
			r, err := c.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: wire.RunURI(out.Runs[0])}})
			if err != nil || !strings.Contains(r.Contents[0].(mcp.TextResourceContents).Text, `"succeeded"`) {
				t.Errorf("run resource: %v %v", r, err)
			}
			if r := call(t, c, "get_run", map[string]any{"id": "nope"}); !r.IsError {
				t.Error("get_run of an unknown id is not an error")
			}
		})
	}
}

func TestReadsAndResources(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	ctx := context.Background()
	for _, k := range []string{"a/1", "a/2", "b/1"} {
		if _, err := a.eng.Mutate(ctx, "putItem", json.RawMessage(`{"key":"`+k+`","name":"n-`+k+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.eng.Mutate(ctx, "putSecret", json.RawMessage(`{"key":"api","name":"sk-live-123"}`)); err != nil {
		t.Fatal(err)
	}
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, base, e, nil)
			res := call(t, c, "list_rows", map[string]any{"table": "items", "prefix": "a/", "limit": 1})
			var p struct {
				Rows []struct{ Key string }
				Next string
			}
			b, _ := json.Marshal(res.StructuredContent)
			_ = json.Unmarshal(b, &p)
			if res.IsError || len(p.Rows) != 1 || p.Rows[0].Key != "a/1" || p.Next != "a/1" {
				t.Fatalf("list_rows page 1: %s", b)
			}
			res = call(t, c, "list_rows", map[string]any{"table": "items", "prefix": "a/", "after": p.Next})
			b, _ = json.Marshal(res.StructuredContent)
			p.Rows, p.Next = nil, ""
			_ = json.Unmarshal(b, &p)
			if len(p.Rows) != 1 || p.Rows[0].Key != "a/2" || p.Next != "" {
				t.Fatalf("list_rows page 2: %s", b)
			}
			res = call(t, c, "list_rows", map[string]any{"table": "items", "limit": 5000})
			if !res.IsError {
				t.Error("list_rows accepted limit 5000")
			}
			res = call(t, c, "get_row", map[string]any{"table": "items", "key": "zzz"})
			if res.IsError || !strings.Contains(text(res), `"found":false`) {
				t.Errorf("get_row of a missing key: %q", text(res))
			}

			// The server-only table reads exactly like one that does not exist.
			hidden := call(t, c, "get_row", map[string]any{"table": "secrets", "key": "api"})
			absent := call(t, c, "get_row", map[string]any{"table": "nosuch", "key": "api"})
			if !hidden.IsError || strings.ReplaceAll(text(hidden), "secrets", "nosuch") != text(absent) {
				t.Errorf("server-only table read differs from a missing one:\n%q\n%q", text(hidden), text(absent))
			}
			for _, r := range []*mcp.CallToolResult{hidden, call(t, c, "list_rows", map[string]any{"table": "secrets"})} {
				if strings.Contains(text(r), "sk-live") {
					t.Errorf("secret leaked: %q", text(r))
				}
			}

			rl, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			rt, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			listed, _ := json.Marshal([]any{rl, rt})
			if !strings.Contains(string(listed), wire.TableURI("items")) || strings.Contains(string(listed), "secrets") {
				t.Errorf("resources: %s", listed)
			}
			read := func(uri string) (string, error) {
				r, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
				if err != nil {
					return "", err
				}
				return r.Contents[0].(mcp.TextResourceContents).Text, nil
			}
			if got, err := read(wire.RowURI("items", "a/1")); err != nil || got != `{"name":"n-a/1"}` {
				t.Errorf("row resource: %q %v", got, err)
			}
			if got, err := read(wire.TableURI("items")); err != nil || !strings.Contains(got, `"key":"b/1"`) {
				t.Errorf("table resource: %q %v", got, err)
			}
			for _, uri := range []string{wire.RowURI("secrets", "api"), wire.TableURI("secrets"), wire.RowURI("items", "nope")} {
				got, err := read(uri)
				if err == nil || strings.Contains(got, "sk-live") || strings.Contains(err.Error(), "sk-live") {
					t.Errorf("read %s: want not found, got %q %v", uri, got, err)
				}
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{Token: "t0ken"})
	for _, path := range []string{tools.PathStreamable, tools.PathSSE} {
		req, _ := http.NewRequest("GET", base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a token: status %d, want 401", path, resp.StatusCode)
		}
	}
	for _, e := range eras {
		c, _ := connect(t, base, e, map[string]string{"Authorization": "Bearer t0ken"})
		if res := call(t, c, "echo", map[string]any{"text": "ok"}); res.IsError {
			t.Errorf("%s with the token: %q", e.name, text(res))
		}
	}
}

func TestHostProtectionKept(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	req, _ := http.NewRequest("POST", base+tools.PathStreamable, strings.NewReader(`{}`))
	req.Host = "evil.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("a non-local Host header got status %d; DNS-rebinding protection is off", resp.StatusCode)
	}
}

func TestNameClashRefused(t *testing.T) {
	clash := schema.Mutator[PutIn]("get_row", "clashes")
	s := schema.MustDefine(1, items, clash)
	eng, err := backend.Open(backend.Config{Schema: s, Mutators: []backend.MutatorImpl{
		backend.Mutator(clash, func(*backend.MutatorCtx, PutIn) error { return nil }),
	}}, backend.Options{Path: t.TempDir() + "/c.db", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := tools.New(eng, tools.Options{}); err == nil || !strings.Contains(err.Error(), `"get_row"`) {
		t.Errorf("a mutator named get_row: want an error naming it, got %v", err)
	}
}

var _ = time.Second

// TestErrorKinds: every isError result says its kind in _meta, read tools
// included (the soak found get_row answering without one).
func TestErrorKinds(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	c, _ := connect(t, base, eras[0], nil)
	kindOf := func(res *mcp.CallToolResult) string {
		if !res.IsError || res.Meta == nil {
			return ""
		}
		m, _ := res.Meta.AdditionalFields[wire.ErrorMetaKey].(map[string]any)
		k, _ := m["kind"].(string)
		return k
	}
	cases := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"get_row", map[string]any{"table": "nope", "key": "x"}, "unknown"},
		{"get_row", map[string]any{"table": "secrets", "key": "x"}, "unknown"},
		{"get_row", map[string]any{"table": 7, "key": []int{1}}, "invalid_input"},
		{"get_row", map[string]any{"table": "items", "key": ""}, "invalid_input"},
		{"list_rows", map[string]any{"table": "items", "limit": 5000}, "invalid_input"},
		{"list_rows", map[string]any{"table": "nope"}, "unknown"},
		{"get_run", map[string]any{"id": "nope"}, "unknown"},
		{"get_run", map[string]any{}, "invalid_input"},
		{"putItem", map[string]any{"key": "k"}, "invalid_input"},
		{"putTwoThenFail", map[string]any{"key": "k", "name": "n"}, "handler"},
		{"badOut", map[string]any{"text": "x"}, "invalid_output"},
		{"_sync_changes", map[string]any{"table": "nope", "after": 0}, "unknown"},
		{"_sync_push", map[string]any{"client": "c", "seq": 1, "mutator": "nope", "args": map[string]any{}}, "unknown"},
	}
	for _, tc := range cases {
		if got := kindOf(call(t, c, tc.tool, tc.args)); got != tc.want {
			t.Errorf("%s %v: error kind %q, want %q", tc.tool, tc.args, got, tc.want)
		}
	}
}

// TestLargeChunkedRequest: a modern request over 64 KiB sent without a
// Content-Length (chunked) reaches the server whole (withNotificationMeta
// once cut it to its first 64 KiB).
func TestLargeChunkedRequest(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	key := strings.Repeat("x", 70000)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"putItem","arguments":{"key":"` + key + `","name":"big"},"_meta":{"` + mcp.MetaKeyProtocolVersion + `":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}}}}`
	for _, chunked := range []bool{false, true} {
		var rd io.Reader = strings.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // unknown length: Transfer-Encoding: chunked
		}
		req, _ := http.NewRequest("POST", base+tools.PathStreamable, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set(mcp.HeaderProtocolVersion, "2026-07-28")
		req.Header.Set("Mcp-Method", "tools/call")
		req.Header.Set("Mcp-Name", "putItem")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(out), `"version`) {
			t.Errorf("chunked=%v: the 70 KB call did not commit: %d %.300s", chunked, resp.StatusCode, out)
		}
	}
}
