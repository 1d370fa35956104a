package tools_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
)

var (
	pics      = schema.Action[EchoIn, schema.Content]("pics", "Answers text, an image, audio and a resource")
	badPics   = schema.Action[EchoIn, schema.Content]("badPics", "Answers an image block without a mimeType")
	putItem2  = schema.Mutator[PutIn]("putItem", "Put an item")
	contentSc = schema.MustDefine(1, items, putItem2, pics, badPics)
)

// contentEngine serves content actions and a table of keys k00…k149 to
// complete.
func contentEngine(t *testing.T) *backend.Engine {
	t.Helper()
	cfg := backend.Config{Schema: contentSc,
		Mutators: []backend.MutatorImpl{backend.Mutator(putItem2, func(ctx *backend.MutatorCtx, in PutIn) error {
			return backend.TableOf(ctx, items).Set(in.Key, Item{Name: in.Name})
		})},
		Actions: []backend.ActionImpl{
			backend.Action(pics, func(_ *backend.ActionCtx, in EchoIn) (schema.Content, error) {
				return schema.Content{Blocks: []schema.Block{schema.TextBlock(in.Text), schema.ImageBlock([]byte{1, 2}, "image/png"),
					schema.AudioBlock([]byte{3}, "audio/wav"), schema.ResourceBlock("test://r", "text/plain", "res")}}, nil
			}),
			backend.Action(badPics, func(*backend.ActionCtx, EchoIn) (schema.Content, error) {
				return schema.Content{Blocks: []schema.Block{{Type: "image", Data: "AQI="}}}, nil
			}),
		}}
	eng, err := backend.Open(cfg, backend.Options{Path: filepath.Join(t.TempDir(), "c.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	for i := range 150 {
		if _, err := eng.Mutate(context.Background(), "putItem", fmt.Appendf(nil, `{"key":"k%03d","name":"n"}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	return eng
}

func TestContentResults(t *testing.T) {
	eng := contentEngine(t)
	_, base := serveOpts(t, eng, tools.Options{}, tools.HTTPOptions{})
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, base, e, nil)
			res, err := c.CallTool(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "pics", Arguments: map[string]any{"text": "hi"}}})
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError || len(res.Content) != 4 {
				t.Fatalf("want 4 blocks, got isError=%v %+v", res.IsError, res.Content)
			}
			if tc, ok := res.Content[0].(mcp.TextContent); !ok || tc.Text != "hi" {
				t.Errorf("block 0: %#v", res.Content[0])
			}
			if ic, ok := res.Content[1].(mcp.ImageContent); !ok || ic.Data != "AQI=" || ic.MIMEType != "image/png" {
				t.Errorf("block 1: %#v", res.Content[1])
			}
			if ac, ok := res.Content[2].(mcp.AudioContent); !ok || ac.MIMEType != "audio/wav" {
				t.Errorf("block 2: %#v", res.Content[2])
			}
			if er, ok := res.Content[3].(mcp.EmbeddedResource); !ok || er.Resource.(mcp.TextResourceContents).Text != "res" {
				t.Errorf("block 3: %#v", res.Content[3])
			}
			if res.StructuredContent != nil {
				t.Errorf("content result carries structuredContent: %v", res.StructuredContent)
			}
			bad, err := c.CallTool(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "badPics", Arguments: map[string]any{"text": "x"}}})
			if err != nil {
				t.Fatal(err)
			}
			if !bad.IsError || !strings.Contains(bad.Content[0].(mcp.TextContent).Text, "no mimeType") {
				t.Errorf("a malformed block must fail the call saying why: %+v", bad.Content)
			}
		})
	}
}

func TestCompletions(t *testing.T) {
	eng := contentEngine(t)
	_, base := serveOpts(t, eng, tools.Options{
		Prompts: nil,
		CompleteTemplate: func(_ context.Context, ref, arg, value string, _ map[string]string) ([]string, error) {
			if ref == "app://{x}" && arg == "x" {
				return nil, fmt.Errorf("no candidates for %q", value)
			}
			return nil, nil
		},
	}, tools.HTTPOptions{})
	rowT := mcp.ResourceReference{Type: "ref/resource", URI: "mcp-sync://table/{table}/{key}"}
	complete := func(t *testing.T, ref any, arg, value string, ctxArgs map[string]string) (*mcp.CompleteResult, error) {
		c, _ := connect(t, base, eras[0], nil)
		return c.Complete(context.Background(), mcp.CompleteRequest{Params: mcp.CompleteParams{Ref: ref,
			Argument: mcp.CompleteArgument{Name: arg, Value: value}, Context: mcp.CompleteContext{Arguments: ctxArgs}}})
	}
	res, err := complete(t, rowT, "table", "it", nil)
	if err != nil || len(res.Completion.Values) != 1 || res.Completion.Values[0] != "items" {
		t.Errorf("table names by prefix: %+v %v", res, err)
	}
	res, err = complete(t, rowT, "key", "k12", map[string]string{"table": "items"})
	if err != nil || len(res.Completion.Values) != 10 || res.Completion.Values[0] != "k120" || res.Completion.HasMore {
		t.Errorf("keys by prefix k12: %+v %v", res, err)
	}
	res, err = complete(t, rowT, "key", "k", map[string]string{"table": "items"})
	if err != nil || len(res.Completion.Values) != 100 || !res.Completion.HasMore {
		t.Errorf("150 keys: want 100 and hasMore: %d %v %v", len(res.Completion.Values), res.Completion.HasMore, err)
	}
	res, err = complete(t, rowT, "key", "k", map[string]string{"table": "secrets"})
	if err != nil || len(res.Completion.Values) != 0 {
		t.Errorf("an unknown table completes nothing: %+v %v", res, err)
	}
	_, err = complete(t, mcp.ResourceReference{Type: "ref/resource", URI: "app://{x}"}, "x", "q", nil)
	if err == nil || !strings.Contains(err.Error(), `no candidates for "q"`) {
		t.Errorf("the app's error must reach the client: %v", err)
	}
}
