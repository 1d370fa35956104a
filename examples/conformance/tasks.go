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
)

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
	}
}
