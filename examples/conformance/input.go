package conformance

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// The fixtures of the input-required scenarios (input-required-result-*)
// and of server-stateless's diagnostic tools: actions that ask the client
// for input with ActionCtx.Elicit, Sample, Roots and Ask.
var (
	ElicitTool = schema.Action[NoInput, string]("test_input_required_result_elicitation",
		"Asks the user's name, then greets them (conformance: input-required-result-basic-elicitation)")
	SampleTool = schema.Action[NoInput, string]("test_input_required_result_sampling",
		"Asks the client's model a question and answers with its reply (conformance: input-required-result-basic-sampling)")
	RootsTool = schema.Action[NoInput, string]("test_input_required_result_list_roots",
		"Asks the client for its roots and lists them (conformance: input-required-result-basic-list-roots)")
	StateTool = schema.Action[NoInput, string]("test_input_required_result_request_state",
		"Asks for a confirmation; answers state-ok once it has it (conformance: input-required-result-request-state)")
	MultiInputTool = schema.Action[NoInput, string]("test_input_required_result_multiple_inputs",
		"Asks for a name, a sampled greeting and the roots in one round (conformance: input-required-result-multiple-input-requests)")
	MultiRoundTool = schema.Action[NoInput, string]("test_input_required_result_multi_round",
		"Asks for a name, then a colour, in two rounds (conformance: input-required-result-multi-round)")
	TamperTool = schema.Action[NoInput, string]("test_input_required_result_tampered_state",
		"Asks for a confirmation; a tampered requestState is refused (conformance: input-required-result-tampered-state)")
	CapsTool = schema.Action[NoInput, string]("test_input_required_result_capabilities",
		"Asks only for what the client declared it can answer (conformance: input-required-result-capability-check)")
	MissingCapTool = schema.Action[NoInput, string]("test_missing_capability",
		"Samples the client's model; needs the sampling capability (conformance: server-stateless)")
	StreamingElicitTool = schema.Action[NoInput, string]("test_streaming_elicitation",
		"Asks the user a question (conformance: server-stateless)")
	LogTool = schema.Action[NoInput, string]("test_logging_tool",
		"Logs a message at info (conformance: server-stateless)")
)

func inputTools() []schema.Decl {
	return []schema.Decl{ElicitTool, SampleTool, RootsTool, StateTool, MultiInputTool, MultiRoundTool, TamperTool,
		CapsTool, MissingCapTool, StreamingElicitTool, LogTool}
}

// stringForm is a form of one required string field.
func stringForm(field string) map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{field: map[string]any{"type": "string"}}, "required": []string{field}}
}

var confirmForm = map[string]any{"type": "object", "properties": map[string]any{"ok": map[string]any{"type": "boolean"}}, "required": []string{"ok"}}

func confirm(ctx *backend.ActionCtx, _ NoInput) (string, error) {
	e, err := ctx.Elicit("confirm", "Please confirm", confirmForm)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("state-ok: %s", e.Action), nil
}

func inputActions() []backend.ActionImpl {
	return []backend.ActionImpl{
		backend.Action(ElicitTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			e, err := ctx.Elicit("user_name", "What is your name?", stringForm("name"))
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Hello, %v!", e.Content["name"]), nil
		}),
		backend.Action(SampleTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			r, err := ctx.Sample("capital_question", backend.SampleRequest{Prompt: "What is the capital of France?", MaxTokens: 100})
			if err != nil {
				return "", err
			}
			return r.Text, nil
		}),
		backend.Action(RootsTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			roots, err := ctx.Roots("client_roots")
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Roots: %v", roots), nil
		}),
		backend.Action(StateTool, confirm),
		backend.Action(TamperTool, confirm),
		backend.Action(MultiInputTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			elicit, sample := mustParams(ctx, "What is your name?", "Generate a greeting", 50)
			ans, err := ctx.Ask(map[string]backend.InputRequest{
				"user_name":    {Method: backend.MethodElicit, Params: elicit},
				"greeting":     {Method: backend.MethodSample, Params: sample},
				"client_roots": {Method: backend.MethodRoots},
			})
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Got %d answers", len(ans)), nil
		}),
		backend.Action(MultiRoundTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			name, err := ctx.Elicit("step1", "Step 1: What is your name?", stringForm("name"))
			if err != nil {
				return "", err
			}
			color, err := ctx.Elicit("step2", "Step 2: What is your favorite color?", stringForm("color"))
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%v likes %v", name.Content["name"], color.Content["color"]), nil
		}),
		backend.Action(CapsTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			elicit, sample := mustParams(ctx, "What is your name?", "Say hello", 50)
			reqs := map[string]backend.InputRequest{}
			if ctx.ClientCan(backend.CapSampling) {
				reqs["greeting"] = backend.InputRequest{Method: backend.MethodSample, Params: sample}
			}
			if ctx.ClientCan(backend.CapElicitation) {
				reqs["user_name"] = backend.InputRequest{Method: backend.MethodElicit, Params: elicit}
			}
			if len(reqs) == 0 {
				return "The client declared neither sampling nor elicitation", nil
			}
			ans, err := ctx.Ask(reqs)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Got %d answers", len(ans)), nil
		}),
		backend.Action(MissingCapTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			r, err := ctx.Sample("question", backend.SampleRequest{Prompt: "Say hello", MaxTokens: 20})
			return r.Text, err
		}),
		backend.Action(StreamingElicitTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			e, err := ctx.Elicit("answer", "Anything to add?", stringForm("answer"))
			return fmt.Sprintf("You said %v", e.Content["answer"]), err
		}),
		backend.Action(LogTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			ctx.Log(slog.LevelInfo, "test_logging_tool ran")
			return "Logged", nil
		}),
	}
}

// mustParams are the params of an elicitation and a sampling request.
func mustParams(_ *backend.ActionCtx, question, prompt string, maxTokens int) (elicit, sample []byte) {
	elicit = fmt.Appendf(nil, `{"message":%q,"requestedSchema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}`, question)
	sample = fmt.Appendf(nil, `{"messages":[{"role":"user","content":{"type":"text","text":%q}}],"maxTokens":%d}`, prompt, maxTokens)
	return elicit, sample
}

// inputPrompt is test_input_required_result_prompt: prompts/get asks for
// context first (conformance: input-required-result-non-tool-request).
func inputPrompt() server.ServerPrompt {
	return server.ServerPrompt{
		Prompt: mcp.NewPrompt("test_input_required_result_prompt", mcp.WithPromptDescription("A prompt that asks the user for context first")),
		Handler: func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			ans := server.ElicitationResponse(req.Params.InputResponses, "user_context")
			if ans == nil || ans.Action != mcp.ElicitationResponseActionAccept {
				return server.NewInputRequestBuilder("").Elicit("user_context", mcp.ElicitationParams{
					Message:         "What context should the prompt use?",
					RequestedSchema: stringForm("context"),
				}).PromptResult(), nil
			}
			return mcp.NewGetPromptResult("A prompt with elicited context", []mcp.PromptMessage{
				mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(fmt.Sprintf("Context: %v", ans.Content))),
			}), nil
		},
	}
}
