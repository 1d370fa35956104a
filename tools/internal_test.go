package tools_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// hiddenNames are the app's internal mutator and action; each has an
// undeclared twin of the same length whose answers they must match.
var hiddenNames = map[string]string{"putHidden": "putNoSuch", "hiddenEcho": "noSuchEcho"}

// TestInternalToolsAbsent: over streamable HTTP and SSE, each in both
// protocol eras (2025-11-25 and 2026-07-28, which this server also answers
// on the SSE transport), an internal mutator or action is not listed,
// calling or pushing it is answered exactly as for a name never declared, a
// public action still writes through the internal mutator, and a public
// mutator's run of an internal action is not reported.
func TestInternalToolsAbsent(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, base, e, nil)
			checkHidden(t, c, e)
		})
	}
}

// TestInternalToolsAbsentStdio: the same over stdio, in both eras.
func TestInternalToolsAbsentStdio(t *testing.T) {
	a := newApp(t)
	for _, e := range []era{{"stdio-modern", "stdio", false}, {"stdio-legacy", "stdio", true}} {
		t.Run(e.name, func(t *testing.T) {
			in, out := serveStdio(t, a)
			c, _ := start(t, transport.NewIO(out, in, io.NopCloser(strings.NewReader(""))), e)
			checkHidden(t, c, e)
		})
	}
}

func checkHidden(t *testing.T, c *client.Client, e era) {
	t.Helper()
	session := e.name
	// The era is the one asked for, so both eras' cells are really covered.
	era := mcp.ProtocolVersion20260728
	if e.legacy {
		era = mcp.ProtocolVersion20251125
	}
	if got := c.ProtocolVersion(); got != era {
		t.Fatalf("%s negotiated protocol %q, want %q", session, got, era)
	}
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res)
	if !strings.Contains(string(raw), "putItem") {
		t.Fatalf("tools/list lacks the public tools: %s", raw)
	}
	for hidden, twin := range hiddenNames {
		if strings.Contains(string(raw), hidden) {
			t.Errorf("tools/list shows the internal %s", hidden)
		}
		got, want := callAnswer(c, hidden), callAnswer(c, twin)
		if strings.ReplaceAll(got, hidden, twin) != want || !strings.Contains(want, "not found") {
			t.Errorf("tools/call %s answered %s; an undeclared tool gets %s", hidden, got, want)
		}
	}
	push := func(name string) *mcp.CallToolResult {
		return call(t, c, wire.ToolSyncPush, map[string]any{"client": "c-" + session, "seq": 1, "mutator": name,
			"args": map[string]any{"key": "api", "name": "stolen"}})
	}
	got, _ := json.Marshal(push("putHidden"))
	want, _ := json.Marshal(push("putNoSuch"))
	if strings.ReplaceAll(string(got), "putHidden", "putNoSuch") != string(want) ||
		!strings.Contains(string(got), `"kind":"unknown"`) || !strings.Contains(string(got), `"isError":true`) {
		t.Errorf("_sync_push of the internal mutator: %s; of an undeclared one: %s", got, want)
	}
	put := call(t, c, "putAndHide", map[string]any{"key": "h-" + session, "name": "n"})
	if b, _ := json.Marshal(put.StructuredContent); put.IsError || strings.Contains(string(b), "runs") {
		t.Errorf("putAndHide reported %s", b)
	}
	// An action the client may call still reaches the internal mutator: it
	// reads back what putHidden wrote.
	act := call(t, c, "hideByAction", map[string]any{"key": "a-" + session, "name": "via " + session})
	if b, _ := json.Marshal(act.StructuredContent); act.IsError || !strings.Contains(string(b), `"text":"via `+session+`"`) {
		t.Errorf("hideByAction, through putHidden: %s %s", b, text(act))
	}
}

// callAnswer calls name and returns what came back: the result's text and
// error flag, or the protocol error.
func callAnswer(c *client.Client, name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = map[string]any{"key": "api", "name": "stolen", "text": "x"}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("isError=%v %s", res.IsError, text(res))
}

// serveStdio serves a's tools over stdio on pipes until the test ends, and
// returns the server's input and output.
func serveStdio(t *testing.T, a *app) (*io.PipeWriter, *io.PipeReader) {
	t.Helper()
	srv, err := tools.New(a.eng, tools.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeStdio(ctx, inR, outW) }()
	t.Cleanup(func() { cancel(); inW.Close(); outR.Close(); <-done; srv.Close() })
	return inW, outR
}

// jsonLines reads r one JSON-RPC message a line.
func jsonLines(r io.Reader) *bufio.Scanner {
	s := bufio.NewScanner(r)
	s.Buffer(nil, 1<<20)
	return s
}

// TestInternalActionIsNoTask: a tools/call that asks to run an internal
// action as a task (the 2026-07-28 tasks extension, or 2025-11-25's task
// parameter on a request with no session) is answered exactly as for an
// undeclared name, and starts no task, while a public action's does.
func TestInternalActionIsNoTask(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	ask := func(name string, modern bool) string {
		params := map[string]any{"name": name, "arguments": map[string]any{"text": "x"}}
		h := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
		if modern {
			caps := map[string]any{"extensions": map[string]any{tools.TasksExtension: map[string]any{}}}
			params["_meta"] = map[string]any{mcp.MetaKeyProtocolVersion: mcp.ProtocolVersion20260728, mcp.MetaKeyClientCapabilities: caps}
			h[mcp.HeaderProtocolVersion] = mcp.ProtocolVersion20260728
			h[mcp.HeaderMethod] = "tools/call"
			h[mcp.HeaderName] = name
		} else {
			params["task"] = map[string]any{"ttl": 60000}
		}
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params})
		req, err := http.NewRequest(http.MethodPost, base+tools.PathStreamable, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("HTTP %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	for _, modern := range []bool{true, false} {
		if public := ask("echo", modern); !strings.Contains(public, "taskId") {
			t.Fatalf("modern %v: a public action's task was not started: %s", modern, public)
		}
		got, want := ask("hiddenEcho", modern), ask("noSuchEcho", modern)
		if strings.ReplaceAll(got, "hiddenEcho", "noSuchEcho") != want || strings.Contains(got, "taskId") {
			t.Errorf("modern %v: a task of the internal action: %s; of an undeclared one: %s", modern, got, want)
		}
	}
}
