// Package conformance is a fixture app for the MCP conformance suite
// (@modelcontextprotocol/conformance, `conformance server`): the tools,
// resources, resource templates and prompts its server scenarios call by
// fixed names (test_simple_text, test://static-text, test_simple_prompt, …),
// declared with mcp-sync like any other app: a schema of actions, a
// backend.Config implementing them, and tools.Options for the app's own
// resources, templates and prompts.
//
// Serve it with `mcp-sync serve --app conformance --http 127.0.0.1:0`.
// Scenarios that need what mcp-sync does not offer (image, audio and
// embedded-resource tool results, sampling, elicitation, completions, …)
// are listed with their reasons in testdata/interop/expected-failures.yml.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
)

// NoInput is the input of the fixture tools that take no arguments.
type NoInput struct{}

// Address is part of [SchemaInput].
type Address struct {
	Street string `json:"street,omitempty"`
	City   string `json:"city,omitempty"`
}

// SchemaInput is the input of the json_schema_2020_12_tool fixture.
type SchemaInput struct {
	Name    string   `json:"name,omitempty"`
	Address *Address `json:"address,omitempty"`
}

// Event is one row of the events table: what the fixture tools did, so the
// table resources have something to show.
type Event struct {
	Tool string `json:"tool"`
	At   string `json:"at"`
}

// Fixed texts the conformance scenarios expect.
const (
	// SimpleText is test_simple_text's answer.
	SimpleText = "This is a simple text response for testing."
	// ErrorText is test_error_handling's error.
	ErrorText = "This tool intentionally returns an error for testing"
	// StaticText is the text of test://static-text.
	StaticText = "This is the content of the static text resource."
	// SimplePromptText is test_simple_prompt's message.
	SimplePromptText = "This is a simple prompt for testing."
	// EmbeddedText is the text of the resource test_prompt_with_embedded_resource embeds.
	EmbeddedText = "Embedded resource content for testing."
)

// The declarations.
var (
	// Events is what the fixture tools did.
	Events = schema.Table[Event]("events", schema.Description("What the fixture tools did, newest last"))

	// RecordEvent appends an event; the progress and logging tools call it
	// as they finish.
	RecordEvent = schema.Mutator[Event]("recordEvent", "Append an event (the fixture tools call it as they finish)")

	// SimpleTextTool answers with [SimpleText].
	SimpleTextTool = schema.Action[NoInput, string]("test_simple_text",
		"Returns a fixed text (conformance: tools-call-simple-text)", schema.Idempotent())
	// ErrorTool always fails with [ErrorText].
	ErrorTool = schema.Action[NoInput, string]("test_error_handling",
		"Always fails with a fixed message (conformance: tools-call-error)", schema.Idempotent())
	// ProgressTool reports progress 0, 50 and 100 of 100.
	ProgressTool = schema.Action[NoInput, string]("test_tool_with_progress",
		"Reports progress 0, 50 and 100 of 100, 50 ms apart (conformance: tools-call-with-progress)")
	// LoggingTool sends three info log messages.
	LoggingTool = schema.Action[NoInput, string]("test_tool_with_logging",
		"Sends three info log messages, 50 ms apart (conformance: tools-call-with-logging)")
	// SchemaTool has a nested input, for the JSON Schema 2020-12 scenario.
	SchemaTool = schema.Action[SchemaInput, string]("json_schema_2020_12_tool",
		"Tool with JSON Schema 2020-12 features (conformance: json-schema-2020-12)", schema.Idempotent())

	// Schema is the fixture app's schema.
	Schema = schema.MustDefine(1, append([]schema.Decl{Events, RecordEvent, SimpleTextTool, ErrorTool, ProgressTool, LoggingTool, SchemaTool,
		GreetTool, SlowComputeTool, FailingJobTool, ProtocolErrorJobTool,
		ImageTool, AudioTool, EmbeddedTool, MixedTool, ConfirmDeleteTool, MultiInputTaskTool, ToolWithTask}, slices.Concat(inputTools(), legacyInputTools())...)...)
)

// Config returns the fixture app's backend.
func Config() backend.Config {
	return backend.Config{
		Schema: Schema,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(RecordEvent, func(ctx *backend.MutatorCtx, in Event) error {
				return backend.TableOf(ctx, Events).Set(in.At+" "+in.Tool, in)
			}),
		},
		Actions: append([]backend.ActionImpl{
			backend.Action(SimpleTextTool, func(*backend.ActionCtx, NoInput) (string, error) {
				return SimpleText, nil
			}),
			backend.Action(ErrorTool, func(*backend.ActionCtx, NoInput) (string, error) {
				//lint:ignore ST1005 the conformance suite's fixed message, shown to users as is
				return "", errors.New(ErrorText)
			}),
			backend.Action(ProgressTool, progress),
			backend.Action(LoggingTool, logging),
			backend.Action(SchemaTool, func(_ *backend.ActionCtx, in SchemaInput) (string, error) {
				return fmt.Sprintf("name=%q", in.Name), nil
			}),
		}, slices.Concat(taskActions(), contentActions(), inputActions(), legacyInputActions())...),
	}
}

func progress(ctx *backend.ActionCtx, _ NoInput) (string, error) {
	for i, p := range []float64{0, 50, 100} {
		if i > 0 {
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return "", err
			}
		}
		ctx.Progress(p, 100, "")
	}
	if err := record(ctx); err != nil {
		return "", err
	}
	return "Progress reported: 0, 50, 100 of 100", nil
}

func logging(ctx *backend.ActionCtx, _ NoInput) (string, error) {
	for i, msg := range []string{"Tool execution started", "Tool processing data", "Tool execution completed"} {
		if i > 0 {
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return "", err
			}
		}
		ctx.Log(slog.LevelInfo, msg)
	}
	if err := record(ctx); err != nil {
		return "", err
	}
	return "Logged 3 messages", nil
}

// record appends an event row for the running action.
func record(ctx *backend.ActionCtx) error {
	now := time.Now().UTC()
	return ctx.Mutate(RecordEvent.Name(), Event{Tool: ctx.Name(), At: now.Format(time.RFC3339Nano)})
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pngPixel is a 1×1 red PNG, base64.
const pngPixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="

// Options returns the fixture app's own resources, resource templates and
// prompts, to serve beside the table resources.
func Options() tools.Options {
	return tools.Options{
		Name:        "mcp-sync-conformance",
		TaskSupport: taskSupport(),
		// Its first question is asked before its task starts (tasks-mrtr-composition).
		AskBeforeTask: map[string]bool{ToolWithTask.Name(): true},
		ClientNeeds:   map[string][]string{MissingCapTool.Name(): {backend.CapSampling}},
		// test_prompt_with_arguments' arguments complete from a fixed list.
		CompletePrompt: func(_ context.Context, prompt, _, value string, _ map[string]string) ([]string, error) {
			if prompt != "test_prompt_with_arguments" {
				return nil, nil
			}
			var vals []string
			for _, v := range []string{"test", "testing", "test-value", "other"} {
				if strings.HasPrefix(v, value) {
					vals = append(vals, v)
				}
			}
			return vals, nil
		},
		Resources: []server.ServerResource{
			staticResource("test://static-text", "static-text", "A fixed text resource",
				mcp.TextResourceContents{URI: "test://static-text", MIMEType: "text/plain", Text: StaticText}),
			staticResource("test://static-binary", "static-binary", "A fixed binary resource (a 1x1 PNG)",
				mcp.BlobResourceContents{URI: "test://static-binary", MIMEType: "image/png", Blob: pngPixel}),
			staticResource("test://watched-resource", "watched-resource", "A resource clients subscribe to",
				mcp.TextResourceContents{URI: "test://watched-resource", MIMEType: "text/plain", Text: "Watched resource content."}),
		},
		Templates: []server.ServerResourceTemplate{{
			Template: mcp.NewResourceTemplate("test://template/{id}/data", "template-data",
				mcp.WithTemplateDescription("Data for an id, echoing it"), mcp.WithTemplateMIMEType("application/json")),
			Handler: templateData,
		}},
		Prompts: []server.ServerPrompt{
			inputPrompt(),
			{
				Prompt: mcp.NewPrompt("test_simple_prompt", mcp.WithPromptDescription("A prompt without arguments")),
				Handler: func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
					return mcp.NewGetPromptResult("A simple prompt", []mcp.PromptMessage{
						mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(SimplePromptText)),
					}), nil
				},
			},
			{
				Prompt: mcp.NewPrompt("test_prompt_with_arguments", mcp.WithPromptDescription("A prompt with two arguments"),
					mcp.WithArgument("arg1", mcp.ArgumentDescription("First test argument"), mcp.RequiredArgument()),
					mcp.WithArgument("arg2", mcp.ArgumentDescription("Second test argument"), mcp.RequiredArgument())),
				Handler: func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
					a := req.Params.Arguments
					return mcp.NewGetPromptResult("A prompt with arguments", []mcp.PromptMessage{
						mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(
							fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", a["arg1"], a["arg2"]))),
					}), nil
				},
			},
			{
				Prompt: mcp.NewPrompt("test_prompt_with_embedded_resource", mcp.WithPromptDescription("A prompt embedding a resource"),
					mcp.WithArgument("resourceUri", mcp.ArgumentDescription("URI of the resource to embed"), mcp.RequiredArgument())),
				Handler: func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
					return mcp.NewGetPromptResult("A prompt with an embedded resource", []mcp.PromptMessage{
						mcp.NewPromptMessage(mcp.RoleUser, mcp.NewEmbeddedResource(mcp.TextResourceContents{
							URI: req.Params.Arguments["resourceUri"], MIMEType: "text/plain", Text: EmbeddedText})),
						mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Please process the embedded resource above.")),
					}), nil
				},
			},
			{
				Prompt: mcp.NewPrompt("test_prompt_with_image", mcp.WithPromptDescription("A prompt with an image")),
				Handler: func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
					return mcp.NewGetPromptResult("A prompt with an image", []mcp.PromptMessage{
						mcp.NewPromptMessage(mcp.RoleUser, mcp.NewImageContent(pngPixel, "image/png")),
						mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Please analyze the image above.")),
					}), nil
				},
			},
		},
	}
}

func staticResource(uri, name, description string, contents mcp.ResourceContents) server.ServerResource {
	mime := ""
	switch c := contents.(type) {
	case mcp.TextResourceContents:
		mime = c.MIMEType
	case mcp.BlobResourceContents:
		mime = c.MIMEType
	}
	return server.ServerResource{
		Resource: mcp.NewResource(uri, name, mcp.WithResourceDescription(description), mcp.WithMIMEType(mime)),
		Handler: func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{contents}, nil
		},
	}
}

// templateData serves test://template/{id}/data.
func templateData(_ context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	uri := req.Params.URI
	rest, ok := strings.CutPrefix(uri, "test://template/")
	id, ok2 := strings.CutSuffix(rest, "/data")
	if !ok || !ok2 || id == "" || strings.Contains(id, "/") {
		return nil, fmt.Errorf("no such resource %q: expected test://template/{id}/data", uri)
	}
	id, err := url.PathUnescape(id)
	if err != nil {
		return nil, fmt.Errorf("no such resource %q: %v", uri, err)
	}
	body, err := json.Marshal(map[string]any{"id": id, "templateTest": true, "data": "Data for ID: " + id})
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "application/json", Text: string(body)}}, nil
}
