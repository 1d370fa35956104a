package tools_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestListLimitIsTheStorageLimit: list_rows's published bound is wire's
// MaxListLimit, which must equal what storage will scan in one page (wire
// keeps a copy, since it imports nothing of the server); likewise the
// default page sizes, and list_history's bounds and the audit's.
func TestListLimitIsTheStorageLimit(t *testing.T) {
	for _, c := range []struct {
		name        string
		wire, store int
	}{
		{"MaxListLimit / storage.MaxScanLimit", wire.MaxListLimit, storage.MaxScanLimit},
		{"DefaultListLimit / storage.DefaultScanLimit", wire.DefaultListLimit, storage.DefaultScanLimit},
		// list_history publishes the audit's page bounds, which the engine
		// enforces with storage's.
		{"MaxHistoryLimit / storage.MaxAuditLimit", wire.MaxHistoryLimit, storage.MaxAuditLimit},
		{"DefaultHistoryLimit / storage.DefaultAuditLimit", wire.DefaultHistoryLimit, storage.DefaultAuditLimit},
	} {
		if c.wire != c.store {
			t.Errorf("wire.%s: %d and %d: they must agree", c.name, c.wire, c.store)
		}
	}
	a := newApp(t)
	srv, err := tools.New(a.eng, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var resp struct {
		Result struct {
			Tools []struct {
				Name        string `json:"name"`
				InputSchema struct {
					Properties map[string]struct {
						Maximum *int `json:"maximum"`
					} `json:"properties"`
				} `json:"inputSchema"`
			} `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(rpc(t, srv, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), &resp); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tl := range resp.Result.Tools {
		if tl.Name != wire.ToolListRows {
			continue
		}
		found = true
		if m := tl.InputSchema.Properties["limit"].Maximum; m == nil || *m != wire.MaxListLimit {
			t.Errorf("list_rows's limit maximum = %v, want %d", m, wire.MaxListLimit)
		}
	}
	if !found {
		t.Error("tools/list has no list_rows")
	}
}

// TestContractToolsNameBadFields: a read or sync tool called with bad
// arguments is answered invalid_input with a message naming each offending
// field (the arguments are checked against the schema generated from the
// wire structs), and nothing past the check runs.
func TestContractToolsNameBadFields(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	c, _ := connect(t, base, eras[0], nil)
	cases := []struct {
		tool string
		args any
		want []string
	}{
		{wire.ToolGetRow, map[string]any{"table": 7, "key": []int{1}}, []string{"get_row", "/table", "/key", "string"}},
		{wire.ToolGetRow, map[string]any{"table": "items", "key": ""}, []string{"/key", "minLength"}},
		{wire.ToolGetRow, map[string]any{"table": "items"}, []string{"key"}},
		{wire.ToolGetRow, map[string]any{"table": "items", "key": "a", "kye": "b"}, []string{"kye"}},
		{wire.ToolListRows, map[string]any{"table": "items", "limit": 5000}, []string{"/limit", "maximum"}},
		{wire.ToolListRows, map[string]any{"table": "items", "limit": -1}, []string{"/limit"}},
		{wire.ToolListRows, []int{1, 2}, []string{"object"}},
		{wire.ToolGetRun, map[string]any{}, []string{"id"}},
		{wire.ToolSyncChanges, map[string]any{"table": "items"}, []string{"after"}},
		{wire.ToolSyncChanges, map[string]any{"table": "", "after": 0}, []string{"/table"}},
		{wire.ToolSyncChanges, map[string]any{"table": "items", "after": -1}, []string{"/after"}},
		{wire.ToolSyncPush, map[string]any{"client": "c", "seq": 0, "mutator": "putItem", "args": map[string]any{"key": "k", "name": "n"}}, []string{"/seq"}},
		{wire.ToolSyncPush, map[string]any{"client": "c", "seq": 1, "mutator": "putItem", "args": "no"}, []string{"/args", "object"}},
		{wire.ToolSyncState, map[string]any{"client": ""}, []string{"/client"}},
		// Valid by the schema, past uint64: said in JSON terms, not Go's.
		{wire.ToolSyncChanges, map[string]any{"table": "items", "after": 1e30}, []string{"/after", "out of range"}},
	}
	for _, tc := range cases {
		res := call(t, c, tc.tool, tc.args)
		msg := text(res)
		if !res.IsError || errorKind(res) != string(wire.KindInvalidInput) {
			t.Errorf("%s %v: kind %q, %s; want invalid_input", tc.tool, tc.args, errorKind(res), msg)
			continue
		}
		if strings.Contains(msg, "Go struct") || strings.Contains(msg, "wire.") {
			t.Errorf("%s %v: %q names Go types", tc.tool, tc.args, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s %v: %q does not mention %q", tc.tool, tc.args, msg, w)
			}
		}
	}
	// The rejected push wrote nothing.
	if res := call(t, c, wire.ToolGetRow, map[string]any{"table": "items", "key": "k"}); res.IsError || !strings.Contains(text(res), `"found":false`) {
		t.Errorf("after rejected pushes, get_row k = %s", text(res))
	}
}
