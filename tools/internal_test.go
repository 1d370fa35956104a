package tools_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// hiddenNames are the app's internal mutator and action; each has an
// undeclared twin of the same length whose answers they must match.
var hiddenNames = map[string]string{"putHidden": "putNoSuch", "hiddenEcho": "noSuchEcho"}

// TestInternalToolsAbsent: over streamable HTTP (both eras) and SSE, an
// internal mutator or action is not listed, and calling or pushing it is
// answered exactly as for a name never declared.
func TestInternalToolsAbsent(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, base, e, nil)
			ctx := context.Background()
			res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
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
				got, want := callAnswer(c.CallTool, hidden), callAnswer(c.CallTool, twin)
				if strings.ReplaceAll(got, hidden, twin) != want || !strings.Contains(want, "not found") {
					t.Errorf("tools/call %s answered %s; an undeclared tool gets %s", hidden, got, want)
				}
			}
			push := func(name string) *mcp.CallToolResult {
				return call(t, c, wire.ToolSyncPush, map[string]any{"client": "c-" + e.name, "seq": 1, "mutator": name,
					"args": map[string]any{"key": "api", "name": "stolen"}})
			}
			got, _ := json.Marshal(push("putHidden"))
			want, _ := json.Marshal(push("putNoSuch"))
			if strings.ReplaceAll(string(got), "putHidden", "putNoSuch") != string(want) ||
				!strings.Contains(string(got), `"kind":"unknown"`) || !strings.Contains(string(got), `"isError":true`) {
				t.Errorf("_sync_push of the internal mutator: %s; of an undeclared one: %s", got, want)
			}
			// A public mutator's run of an internal action is not reported.
			put := call(t, c, "putAndHide", map[string]any{"key": "h-" + e.name, "name": "n"})
			if b, _ := json.Marshal(put.StructuredContent); put.IsError || strings.Contains(string(b), "runs") {
				t.Errorf("putAndHide reported %s", b)
			}
		})
	}
}

// callAnswer calls name and returns what came back: the result's text and
// error flag, or the protocol error.
func callAnswer(callTool func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error), name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = map[string]any{"key": "api", "name": "stolen", "text": "x"}
	res, err := callTool(ctx, req)
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("isError=%v %s", res.IsError, text(res))
}

// TestInternalToolsAbsentStdio: over stdio too.
func TestInternalToolsAbsentStdio(t *testing.T) {
	inW, lines := serveStdio(t, newApp(t))
	args := `{"key":"api","name":"stolen","text":"x"}`
	go func() {
		fmt.Fprintln(inW, initBody)
		fmt.Fprintln(inW, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		fmt.Fprintln(inW, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		id := 3
		for _, name := range []string{"putHidden", "putNoSuch", "hiddenEcho", "noSuchEcho"} {
			fmt.Fprintf(inW, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`+"\n", id, name, args)
			id++
		}
	}()
	answers := map[int]string{}
	for len(answers) < 5 && lines.Scan() {
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal(lines.Bytes(), &msg) != nil || msg.ID < 2 {
			continue
		}
		answers[msg.ID] = string(msg.Result) + string(msg.Error)
	}
	if len(answers) < 5 {
		t.Fatalf("stdio answered %d of 5 requests: %v", len(answers), answers)
	}
	if !strings.Contains(answers[2], "putItem") || strings.Contains(answers[2], "putHidden") || strings.Contains(answers[2], "hiddenEcho") {
		t.Errorf("stdio tools/list: %s", answers[2])
	}
	if strings.ReplaceAll(answers[3], "putHidden", "putNoSuch") != answers[4] || !strings.Contains(answers[4], "not found") {
		t.Errorf("stdio call of the internal mutator: %s; of an undeclared one: %s", answers[3], answers[4])
	}
	if strings.ReplaceAll(answers[5], "hiddenEcho", "noSuchEcho") != answers[6] {
		t.Errorf("stdio call of the internal action: %s; of an undeclared one: %s", answers[5], answers[6])
	}
}

// serveStdio serves a's tools over stdio on pipes until the test ends, and
// returns the server's input and its output, one JSON-RPC message a line.
func serveStdio(t *testing.T, a *app) (io.Writer, *bufio.Scanner) {
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
	lines := bufio.NewScanner(outR)
	lines.Buffer(nil, 1<<20)
	return inW, lines
}
