package conformance

import (
	"encoding/json"
	"fmt"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// PromptInput is test_sampling's input.
type PromptInput struct {
	Prompt string `json:"prompt" jsonschema:"description=The prompt to send to the client's model"`
}

// MessageInput is test_elicitation's input.
type MessageInput struct {
	Message string `json:"message" jsonschema:"description=The message to show the user"`
}

// The fixtures of 0.1.16's sampling and elicitation scenarios, which a
// 2025-11-25 client answers as server-initiated requests.
var (
	SamplingTool = schema.Action[PromptInput, string]("test_sampling",
		"Asks the client's model to answer the prompt (conformance: tools-call-sampling)")
	ElicitationTool = schema.Action[MessageInput, string]("test_elicitation",
		"Asks the user for a username and email (conformance: tools-call-elicitation)")
	DefaultsTool = schema.Action[NoInput, string]("test_elicitation_sep1034_defaults",
		"Asks the user to fill a form with defaults (conformance: elicitation-sep1034-defaults)")
	EnumsTool = schema.Action[NoInput, string]("test_elicitation_sep1330_enums",
		"Asks the user to pick from enums of every kind (conformance: elicitation-sep1330-enums)")
)

func legacyInputTools() []schema.Decl {
	return []schema.Decl{SamplingTool, ElicitationTool, DefaultsTool, EnumsTool}
}

func elicited(e backend.Elicitation) string {
	content, _ := json.Marshal(e.Content)
	return fmt.Sprintf("Elicitation completed: action=%s, content=%s", e.Action, content)
}

func str(extra map[string]any) map[string]any {
	m := map[string]any{"type": "string"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func legacyInputActions() []backend.ActionImpl {
	opts3 := []string{"option1", "option2", "option3"}
	return []backend.ActionImpl{
		backend.Action(SamplingTool, func(ctx *backend.ActionCtx, in PromptInput) (string, error) {
			r, err := ctx.Sample("prompt", backend.SampleRequest{Prompt: in.Prompt, MaxTokens: 100})
			if err != nil {
				return "", err
			}
			return "LLM response: " + r.Text, nil
		}),
		backend.Action(ElicitationTool, func(ctx *backend.ActionCtx, in MessageInput) (string, error) {
			e, err := ctx.Elicit("user", in.Message, map[string]any{"type": "object", "properties": map[string]any{
				"username": str(map[string]any{"description": "User's response"}),
				"email":    str(map[string]any{"description": "User's email address"}),
			}, "required": []string{"username", "email"}})
			if err != nil {
				return "", err
			}
			return "User response: " + elicited(e), nil
		}),
		backend.Action(DefaultsTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			e, err := ctx.Elicit("defaults", "Please review the defaults", map[string]any{"type": "object", "properties": map[string]any{
				"name":     str(map[string]any{"default": "John Doe"}),
				"age":      map[string]any{"type": "integer", "default": 30},
				"score":    map[string]any{"type": "number", "default": 95.5},
				"status":   str(map[string]any{"enum": []string{"active", "inactive", "pending"}, "default": "active"}),
				"verified": map[string]any{"type": "boolean", "default": true},
			}})
			if err != nil {
				return "", err
			}
			return elicited(e), nil
		}),
		backend.Action(EnumsTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			titled := func(prefix string, titles ...string) []any {
				var out []any
				for i, t := range titles {
					out = append(out, map[string]any{"const": fmt.Sprintf("%s%d", prefix, i+1), "title": t})
				}
				return out
			}
			e, err := ctx.Elicit("enums", "Please choose", map[string]any{"type": "object", "properties": map[string]any{
				"untitledSingle": str(map[string]any{"enum": opts3}),
				"titledSingle":   str(map[string]any{"oneOf": titled("value", "First Option", "Second Option", "Third Option")}),
				"legacyEnum": str(map[string]any{"enum": []string{"opt1", "opt2", "opt3"},
					"enumNames": []string{"Option One", "Option Two", "Option Three"}}),
				"untitledMulti": map[string]any{"type": "array", "items": str(map[string]any{"enum": opts3})},
				"titledMulti": map[string]any{"type": "array", "items": map[string]any{
					"anyOf": titled("value", "First Choice", "Second Choice", "Third Choice")}},
			}})
			if err != nil {
				return "", err
			}
			return elicited(e), nil
		}),
	}
}
