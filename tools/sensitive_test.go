package tools_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

type CallAPIIn struct {
	APIKey string `json:"apiKey"`
}

type CallAPIOut struct {
	Token string `json:"token"`
}

var (
	keyNotes    = schema.Table[Item]("notes")
	startAPI    = schema.Mutator[CallAPIIn]("startAPI", "Enqueue callAPI with a key")
	callAPI     = schema.Action[CallAPIIn, CallAPIOut]("callAPI", "Calls an API with a key", schema.Sensitive())
	sensitiveSc = schema.MustDefine(1, keyNotes, startAPI, callAPI)
)

// TestSensitiveRunsAreRedactedOnEveryClientSurface: get_run and the run
// resource show a sensitive action's run without its input or output.
func TestSensitiveRunsAreRedactedOnEveryClientSurface(t *testing.T) {
	eng, err := backend.Open(backend.Config{
		Schema: sensitiveSc,
		Mutators: []backend.MutatorImpl{backend.Mutator(startAPI, func(ctx *backend.MutatorCtx, in CallAPIIn) error {
			_, err := ctx.EnqueueAction("callAPI", in)
			return err
		})},
		Actions: []backend.ActionImpl{backend.Action(callAPI, func(ctx *backend.ActionCtx, in CallAPIIn) (CallAPIOut, error) {
			return CallAPIOut{Token: "tok-for-" + in.APIKey}, nil
		})},
	}, backend.Options{Path: filepath.Join(t.TempDir(), "s.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	_, base := serveHTTP(t, &app{eng: eng}, tools.HTTPOptions{})
	c, _ := connect(t, base, eras[0], nil)
	res := call(t, c, "startAPI", map[string]any{"apiKey": "sk-live-4242"})
	var out struct{ Runs []string }
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil || res.IsError || len(out.Runs) != 1 {
		t.Fatalf("startAPI: %s %q", b, text(res))
	}
	var shown string
	if !waitFor(30*time.Second, func() bool {
		shown = text(call(t, c, "get_run", map[string]any{"id": out.Runs[0]}))
		return strings.Contains(shown, `"succeeded"`)
	}) {
		t.Fatalf("the run did not succeed: %s", shown)
	}
	if strings.Contains(shown, "sk-live-4242") || !strings.Contains(shown, `"redacted":true`) {
		t.Errorf("get_run shows %s", shown)
	}
	r, err := c.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: wire.RunURI(out.Runs[0])}})
	if err != nil {
		t.Fatal(err)
	}
	if body := r.Contents[0].(mcp.TextResourceContents).Text; strings.Contains(body, "sk-live-4242") || !strings.Contains(body, `"redacted":true`) {
		t.Errorf("the run resource shows %s", body)
	}
}
