package tools_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/tools"
)

// FuzzToolArguments sends arbitrary argument text to the tools and checks
// that the server answers every call (no panic), that a call which fails
// writes nothing, that one which succeeds commits exactly one version, and
// that the server-only secret never shows.
//
//	go test ./tools -run '^$' -fuzz FuzzToolArguments -fuzztime 60s -fuzzminimizetime 5s
//
// (The engine's goroutines make coverage vary a little between runs, so the
// fuzzer finds many inputs "interesting" and minimizes them; the default
// minimize time of 60 s makes a run look stalled.)
func FuzzToolArguments(f *testing.F) {
	seeds := []struct {
		tool byte
		args string
	}{
		{0, `{"key":"a","name":"x","count":3}`},
		{0, `{"key":"","name":"x"}`},
		{0, `{"key":"a","name":42}`},
		{0, `{"key":"a","name":"x","extra":true}`},
		{1, `{"key":"b","name":"y"}`},
		{2, `{"key":"c","name":"z"}`},
		{3, `{"text":"héllo"}`},
		{3, `{"text":null}`},
		{4, `{"table":"secrets","key":"api"}`},
		{5, `{"table":"items","prefix":"\u00ff","limit":-1}`},
		{0, `[1,2,3]`},
		{0, `"just a string"`},
		{0, `{"key":"a","name":"x"`},
		{0, `{"key":"\ud800","name":"x"}`},
	}
	for _, s := range seeds {
		f.Add(s.tool, s.args)
	}
	a := newApp(f)
	srv, err := tools.New(a.eng, tools.Options{Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	const secret = "sk-fuzz-secret-value"
	if res := rpc(f, srv, `{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"name":"putSecret","arguments":{"key":"api","name":"`+secret+`"}}}`); strings.Contains(string(res), `"isError":true`) {
		f.Fatalf("writing the secret: %s", res)
	}
	names := []string{"putItem", "putTwoThenFail", "boom", "echo", "get_row", "list_rows", "shout"}

	f.Fuzz(func(t *testing.T, tool byte, args string) {
		name := names[int(tool)%len(names)]
		before := a.eng.Version()
		msg := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, name, args)
		raw := rpc(t, srv, msg)
		var resp struct {
			Result *struct {
				IsError           bool            `json:"isError"`
				StructuredContent json.RawMessage `json:"structuredContent"`
			} `json:"result"`
			Error *struct{ Message string } `json:"error"`
		}
		if err := json.Unmarshal(raw, &resp); err != nil || (resp.Result == nil) == (resp.Error == nil) {
			t.Fatalf("not one JSON-RPC result or error: %s", raw)
		}
		if strings.Contains(string(raw), secret) {
			t.Fatalf("the server-only secret leaked: %s", raw)
		}
		after := a.eng.Version()
		ok := resp.Result != nil && !resp.Result.IsError
		switch {
		case !ok && after != before:
			t.Fatalf("%s failed but the version moved %d → %d: %s", name, before, after, raw)
		case ok && name == "putItem":
			if after != before+1 {
				t.Fatalf("putItem succeeded but the version moved %d → %d", before, after)
			}
			var in PutIn
			if err := json.Unmarshal([]byte(args), &in); err != nil {
				t.Fatalf("putItem accepted arguments Go cannot decode: %s", args)
			}
			val, found, _, err := a.eng.Get(t.Context(), "items", in.Key)
			var it Item
			if err != nil || !found || json.Unmarshal(val, &it) != nil || it.Name != in.Name || it.Count != in.Count {
				t.Fatalf("putItem(%s) stored %s (found %v, %v)", args, val, found, err)
			}
		case ok && name != "putItem" && after != before:
			t.Fatalf("%s moved the version %d → %d", name, before, after)
		case ok && (name == "putTwoThenFail" || name == "boom"):
			t.Fatalf("%s never succeeds, yet answered %s", name, raw)
		}
	})
}
