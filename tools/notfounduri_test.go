package tools_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestResourceNotFoundDataURI: on 2026-07-28 a read of a URI nothing
// serves fails with -32602 whose data.uri is the URI (SEP-2164), on
// streamable HTTP and stdio; a URI too long to echo is left out; reads
// that something serves, and older protocols' reads, are mcp-go's as before.
func TestResourceNotFoundDataURI(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	if _, err := a.eng.Mutate(t.Context(), "putItem", json.RawMessage(`{"key":"here","name":"x"}`)); err != nil {
		t.Fatal(err)
	}
	read := func(uri string, o rpcOpts) (int, map[string]any) {
		t.Helper()
		o.name = headerValue(uri)
		return taskRPC(t, base, "resources/read", map[string]any{"uri": uri}, o)
	}
	modern := rpcOpts{modern: true}
	for _, uri := range []string{"test://nowhere", wire.RowURI("items", "missing"), wire.TableURI("nope"), wire.RunURI("no-such-run")} {
		status, out := read(uri, modern)
		e, _ := out["error"].(map[string]any)
		data, _ := e["data"].(map[string]any)
		if status != 400 || rpcErrCode(out) != mcp.INVALID_PARAMS || data["uri"] != uri || !strings.Contains(fmt.Sprint(e["message"]), "not found") {
			t.Errorf("read %s: HTTP %d %v; want 400, -32602 with data.uri", uri, status, out)
		}
	}
	long := "test://" + strings.Repeat("x", 4000)
	if _, out := read(long, modern); rpcErrCode(out) != mcp.INVALID_PARAMS || out["error"].(map[string]any)["data"] != nil ||
		len(fmt.Sprint(out)) > 600 {
		t.Errorf("read of a 4 KB URI: %.300v; want -32602 without data, short", out)
	}
	if _, out := read(wire.RowURI("items", "here"), modern); out["result"] == nil {
		t.Errorf("read of a row that exists: %v", out)
	}
	// Headers that do not match the body stay mcp-go's to refuse.
	o := modern
	o.header = map[string]string{mcp.HeaderName: headerValue("test://other")}
	if _, out := taskRPC(t, base, "resources/read", map[string]any{"uri": "test://nowhere"}, o); rpcErrCode(out) != mcp.HEADER_MISMATCH {
		t.Errorf("mismatched Mcp-Name: %v; want mcp-go's -32020", out)
	}

	inW, outR := serveStdio(t, a)
	lines := jsonLines(outR)
	go fmt.Fprintf(inW, `{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"test://nowhere","_meta":{%q:"2026-07-28"}}}`+"\n", mcp.MetaKeyProtocolVersion)
	for lines.Scan() {
		var msg struct {
			ID    int `json:"id"`
			Error *struct {
				Code int            `json:"code"`
				Data map[string]any `json:"data"`
			} `json:"error"`
		}
		if json.Unmarshal(lines.Bytes(), &msg) != nil || msg.ID != 5 {
			continue
		}
		if msg.Error == nil || msg.Error.Code != mcp.INVALID_PARAMS || msg.Error.Data["uri"] != "test://nowhere" {
			t.Errorf("stdio read of a URI nothing serves: %s", lines.Bytes())
		}
		return
	}
	t.Fatal("no answer to resources/read over stdio")
}

func headerValue(v string) string {
	h, _ := mcp.EncodeHeaderValue(v)
	return h
}
