package conformance

import (
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// GreetInput is greet's input.
type GreetInput struct {
	Name string `json:"name" jsonschema:"description=Who to greet"`
}

// ComputeInput is slow_compute's input.
type ComputeInput struct {
	Seconds float64 `json:"seconds" jsonschema:"minimum=0,maximum=600,description=How long to work"`
	Label   string  `json:"label,omitempty" jsonschema:"description=A label echoed in the result"`
}

// The fixtures of the 0.2 suite's Tasks extension scenarios.
var (
	// GreetTool answers at once; it never runs as a task.
	GreetTool = schema.Action[GreetInput, string]("greet",
		"Returns Hello, {name}! (conformance: tasks scenarios' sync-only tool)", schema.Idempotent())
	// SlowComputeTool works for the given seconds, as a task when the client
	// allows it; cancelling its task ends it cancelled.
	SlowComputeTool = schema.Action[ComputeInput, string]("slow_compute",
		"Works for the given seconds, then answers (conformance: tasks scenarios' task-supporting tool)")
	// FailingJobTool fails with an error of its own after about a second; it
	// runs only as a task.
	FailingJobTool = schema.Action[NoInput, string]("failing_job",
		"Fails with a tool error after about a second; runs only as a task (conformance: tasks scenarios)")
	// ProtocolErrorJobTool panics, which the task reports as a protocol error.
	ProtocolErrorJobTool = schema.Action[NoInput, string]("protocol_error_job",
		"Panics, so its task fails with a protocol error (conformance: tasks scenarios)")
	// ConfirmDeleteTool asks the user to confirm, then answers; as a task it
	// waits in input_required until tasks/update brings the answer.
	ConfirmDeleteTool = schema.Action[FileInput, string]("confirm_delete",
		"Asks the user to confirm deleting a file, then reports the answer (conformance: tasks-mrtr-input)", schema.Destructive())
	// MultiInputTaskTool asks two questions at once.
	MultiInputTaskTool = schema.Action[NoInput, string]("multi_input",
		"Asks the user two questions at once (conformance: tasks-mrtr-input)")
	// ToolWithTask runs only as a task, but asks the user's name first: the
	// question comes back as an input_required result, and the call with the
	// answer starts the task (tools.Options.AskBeforeTask), whose result
	// greets the name.
	ToolWithTask = schema.Action[NoInput, string]("test_tool_with_task",
		"Asks the user's name, then greets it as a task (conformance: tasks-mrtr-composition)")
)

// nameForm asks for the user's name.
func nameForm() map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{"user_name": map[string]any{"type": "string", "description": "Your name"}}, "required": []string{"user_name"}}
}

// FileInput is confirm_delete's input.
type FileInput struct {
	Filename string `json:"filename" jsonschema:"description=The file to delete"`
}

// taskActions are the fixture's task actions' implementations.
func taskActions() []backend.ActionImpl {
	return []backend.ActionImpl{
		backend.Action(GreetTool, func(_ *backend.ActionCtx, in GreetInput) (string, error) {
			return fmt.Sprintf("Hello, %s!", in.Name), nil
		}),
		backend.Action(SlowComputeTool, func(ctx *backend.ActionCtx, in ComputeInput) (string, error) {
			if err := sleep(ctx, time.Duration(in.Seconds*float64(time.Second))); err != nil {
				return "", err
			}
			return fmt.Sprintf("Computed %s after %gs", in.Label, in.Seconds), nil
		}),
		backend.Action(FailingJobTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			if err := sleep(ctx, time.Second); err != nil {
				return "", err
			}
			return "", errors.New("failing_job failed, as it always does")
		}),
		backend.Action(ProtocolErrorJobTool, func(*backend.ActionCtx, NoInput) (string, error) {
			panic("protocol_error_job panics, as it always does")
		}),
		backend.Action(ConfirmDeleteTool, func(ctx *backend.ActionCtx, in FileInput) (string, error) {
			e, err := ctx.Elicit("confirm", fmt.Sprintf("Delete %s?", in.Filename), confirmForm)
			if err != nil {
				return "", err
			}
			if !e.Accepted() {
				return fmt.Sprintf("Kept %s", in.Filename), nil
			}
			return fmt.Sprintf("Deleted %s", in.Filename), nil
		}),
		backend.Action(ToolWithTask, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			e, err := ctx.Elicit("user_name", "What is your name?", nameForm())
			if err != nil {
				return "", err
			}
			name, _ := e.Content["user_name"].(string)
			if n, ok := e.Content["name"].(string); ok && name == "" {
				name = n // the suite answers with {name}
			}
			if !e.Accepted() || name == "" {
				return "No name given", nil
			}
			return fmt.Sprintf("Hello, %s!", name), nil
		}),
		backend.Action(MultiInputTaskTool, func(ctx *backend.ActionCtx, _ NoInput) (string, error) {
			first, _ := mustParams(ctx, "First: your name?", "", 0)
			second, _ := mustParams(ctx, "Second: your name again?", "", 0)
			ans, err := ctx.Ask(map[string]backend.InputRequest{
				"first": {Method: backend.MethodElicit, Params: first}, "second": {Method: backend.MethodElicit, Params: second}})
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Got %d answers", len(ans)), nil
		}),
	}
}

// taskSupport says which fixtures may or must run as tasks: only the Tasks
// scenarios' own; the older scenarios' tools stay plain calls.
func taskSupport() map[string]mcp.TaskSupport {
	return map[string]mcp.TaskSupport{
		SimpleTextTool.Name(): mcp.TaskSupportForbidden,
		ErrorTool.Name():      mcp.TaskSupportForbidden,
		ProgressTool.Name():   mcp.TaskSupportForbidden,
		LoggingTool.Name():    mcp.TaskSupportForbidden,
		SchemaTool.Name():     mcp.TaskSupportForbidden,
		GreetTool.Name():      mcp.TaskSupportForbidden,
		FailingJobTool.Name(): mcp.TaskSupportRequired,
		ToolWithTask.Name():   mcp.TaskSupportRequired,
	}
}
