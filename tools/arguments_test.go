package tools_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestArgumentsMustBeValidUnicode sends keys that JSON decoding would turn
// into U+FFFD (a lone surrogate escape over HTTP; raw invalid UTF-8 bytes
// through the server's message handler, as stdio delivers them): each is
// refused and nothing is written, on writes and reads.
func TestArgumentsMustBeValidUnicode(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	c, _ := connect(t, base, eras[0], nil)
	v0 := a.eng.Version()
	for _, tc := range []struct{ tool, args string }{
		{"putItem", `{"key":"a\ud800","name":"x"}`},
		{"putItem", `{"key":"a\udfff","name":"x"}`},
		{"get_row", `{"table":"items","key":"a\ud800"}`},
		{"list_rows", `{"table":"items","prefix":"\udc00"}`},
	} {
		res := call(t, c, tc.tool, json.RawMessage(tc.args))
		if !res.IsError || errorKind(res) != "invalid_input" || !strings.Contains(text(res), "lone UTF-16 surrogate") {
			t.Errorf("%s %s: want invalid_input naming the surrogate, got kind %q: %q", tc.tool, tc.args, errorKind(res), text(res))
		}
	}
	if res := call(t, c, "putItem", json.RawMessage(`{"key":"ok \ud83d\ude00","name":"x"}`)); res.IsError {
		t.Errorf("a surrogate pair was refused: %q", text(res))
	}
	srv, err := tools.New(a.eng, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rpc(t, srv, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	out := rpc(t, srv, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"putItem\",\"arguments\":{\"key\":\"b\xff\",\"name\":\"x\"}}}")
	if !strings.Contains(string(out), `"isError":true`) || !strings.Contains(string(out), "not valid UTF-8") {
		t.Errorf("raw invalid UTF-8: %s", out)
	}
	if v := a.eng.Version(); v != v0+1 {
		t.Errorf("version %d, want %d: only the valid write may commit", v, v0+1)
	}
}

// TestLongKeysAreQuotedShort: a 100 KB key is refused without being echoed.
func TestLongKeysAreQuotedShort(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	c, _ := connect(t, base, eras[0], nil)
	long := strings.Repeat("k", 100_000)
	for tool, args := range map[string]any{
		"putItem": map[string]any{"key": long, "name": "x"},
		"get_row": map[string]any{"table": "items", "key": long},
	} {
		res := call(t, c, tool, args)
		if !res.IsError || !strings.Contains(text(res), "key limit") || len(text(res)) > 500 {
			t.Errorf("%s with a 100 KB key: %d bytes: %.300q", tool, len(text(res)), text(res))
		}
	}
	// A pushed mutation naming no mutator quotes a prefix of the name.
	res := call(t, c, wire.ToolSyncPush, map[string]any{"client": "c1", "seq": 1, "mutator": long, "args": map[string]any{}})
	if !res.IsError || !strings.Contains(text(res), "no mutator named") || len(text(res)) > 500 {
		t.Errorf("%s with a 100 KB mutator name: %d bytes: %.300q", wire.ToolSyncPush, len(text(res)), text(res))
	}
}
