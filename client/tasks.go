package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	mgtransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

// tasksExtension is the 2026-07-28 Tasks extension's identifier.
const tasksExtension = "io.modelcontextprotocol/tasks"

// Task is a task as the server last reported it: an action call running on
// the server, followed by id. On an mcp-sync server the task is the
// action's run record: get_run reads the same run.
type Task struct {
	ID            string `json:"taskId"`
	Status        string `json:"status"` // working, input_required, completed, failed, cancelled
	StatusMessage string `json:"statusMessage,omitempty"`
	CreatedAt     string `json:"createdAt"`
	LastUpdatedAt string `json:"lastUpdatedAt"`
	// PollIntervalMs is how often the server suggests asking again.
	PollIntervalMs int64 `json:"pollIntervalMs,omitempty"`
}

// Done reports whether the task has finished (completed, failed or
// cancelled).
func (t Task) Done() bool {
	return mcp.TaskStatus(t.Status).IsTerminal()
}

// taskState is tasks/get's answer on either protocol era.
type taskState struct {
	Task
	PollInterval int64               `json:"pollInterval,omitempty"` // 2025-11-25's name
	Result       *mcp.CallToolResult `json:"result,omitempty"`       // 2026-07-28, completed
	Error        *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"` // 2026-07-28, failed
}

// CallTask calls tool with args as a task and waits for its result, which
// it returns as [Conn.Call] does. A long action survives what a plain call
// does not: a client-side timeout, a dropped connection, a server restart
// (the task is the server's durable run record); [Conn.WaitTask] picks up
// a task started earlier.
func (cn *Conn) CallTask(ctx context.Context, tool string, args any) (json.RawMessage, error) {
	t, out, err := cn.StartTask(ctx, tool, args)
	if err != nil || t.ID == "" {
		return out, err
	}
	return cn.WaitTask(ctx, tool, t.ID)
}

// StartTask calls tool with args as a task and returns the task at once.
// A server may answer a call at once instead (a tool that never runs as a
// task, such as a mutator, or one it chose to finish first): then the call
// has run, the Task is zero and its output is returned as Call returns it.
// Arguments the tool refuses fail with a *CallError, as Call's do.
func (cn *Conn) StartTask(ctx context.Context, tool string, args any) (Task, json.RawMessage, error) {
	raw, err := schema.Encode(args) // as Call encodes them: nil slices as []
	if err != nil {
		return Task{}, nil, fmt.Errorf("%s: encoding the arguments: %w", tool, err)
	}
	params := map[string]any{"name": tool, "arguments": json.RawMessage(raw)}
	legacy := cn.isLegacy()
	if legacy {
		params["task"] = map[string]any{}
	}
	res, err := cn.taskRequest(ctx, tool, "tools/call", tool, params)
	if err != nil {
		return Task{}, nil, err
	}
	var created struct {
		ResultType string `json:"resultType"`
		Task       *Task  `json:"task"` // 2025-11-25; 2026-07-28 has the task's fields at the top
	}
	var flat Task
	if json.Unmarshal(res, &created) != nil || json.Unmarshal(res, &flat) != nil {
		return Task{}, nil, fmt.Errorf("%s: %w: the answer to tools/call is not a JSON object", tool, ErrTransport)
	}
	switch {
	case created.Task != nil && created.Task.ID != "":
		return *created.Task, nil, nil
	case created.ResultType == "task" && flat.ID != "":
		return flat, nil, nil
	}
	var now mcp.CallToolResult
	if err := json.Unmarshal(res, &now); err != nil {
		return Task{}, nil, fmt.Errorf("%s: %w: the answer to tools/call is neither a task nor a tool result: %v", tool, ErrTransport, err)
	}
	out, err := resultOutput(tool, &now)
	return Task{}, out, err
}

// GetTask returns the task id's state; tool names it in errors.
func (cn *Conn) GetTask(ctx context.Context, tool, id string) (Task, error) {
	st, err := cn.getTask(ctx, tool, id)
	return st.Task, err
}

func (cn *Conn) getTask(ctx context.Context, tool, id string) (taskState, error) {
	res, err := cn.taskRequest(ctx, tool, "tasks/get", id, map[string]any{"taskId": id})
	if err != nil {
		return taskState{}, err
	}
	var st taskState
	if err := json.Unmarshal(res, &st); err != nil {
		return taskState{}, fmt.Errorf("%s: %w: tasks/get answered no task: %v", tool, ErrTransport, err)
	}
	if st.PollIntervalMs == 0 {
		st.PollIntervalMs = st.PollInterval
	}
	return st, nil
}

// CancelTask asks the server to cancel the task id. The task ends
// cancelled unless it finishes first.
func (cn *Conn) CancelTask(ctx context.Context, tool, id string) error {
	_, err := cn.taskRequest(ctx, tool, "tasks/cancel", id, map[string]any{"taskId": id})
	return err
}

// WaitTask polls the task id (at the interval the server suggests, within
// 50 ms to 5 s) until it finishes, and returns its result as [Conn.Call]
// does: a cancelled task fails with ErrTransport, an action's own error
// with a *CallError.
func (cn *Conn) WaitTask(ctx context.Context, tool, id string) (json.RawMessage, error) {
	for {
		st, err := cn.getTask(ctx, tool, id)
		if err != nil {
			return nil, err
		}
		if st.Done() {
			return cn.taskOutput(ctx, tool, st)
		}
		wait := min(max(time.Duration(st.PollIntervalMs)*time.Millisecond, 50*time.Millisecond), 5*time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s: %w: waiting for task %s: %v (the task goes on; wait for it again)", tool, ErrTransport, id, ctx.Err())
		case <-t.C:
		}
	}
}

// taskOutput is a finished task's result, fetched with tasks/result on
// 2025-11-25 (tasks/get carries it on 2026-07-28).
func (cn *Conn) taskOutput(ctx context.Context, tool string, st taskState) (json.RawMessage, error) {
	switch {
	case st.Status == string(mcp.TaskStatusCancelled):
		return nil, &CallError{Tool: tool, Kind: wire.KindCancelled, Message: fmt.Sprintf("task %s was cancelled", st.ID)}
	case st.Error != nil:
		return nil, &CallError{Tool: tool, Kind: wire.KindInternal, Message: st.Error.Message}
	case st.Result != nil:
		return resultOutput(tool, st.Result)
	case st.Status == string(mcp.TaskStatusFailed):
		return nil, &CallError{Tool: tool, Kind: wire.KindInternal, Message: st.StatusMessage}
	}
	raw, err := cn.taskRequest(ctx, tool, "tasks/result", st.ID, map[string]any{"taskId": st.ID})
	if err != nil {
		return nil, err
	}
	var res mcp.CallToolResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("%s: %w: tasks/result answered no tool result: %v", tool, ErrTransport, err)
	}
	return resultOutput(tool, &res)
}

func (cn *Conn) isLegacy() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.legacy
}

// taskRequest sends one task request on the connection's transport. The
// mcp-go client sets each 2026-07-28 request's client capabilities itself,
// with no way to add the tasks extension, so task requests are built here:
// _meta with the extension declared, and the Mcp-Method / Mcp-Name headers
// (name is the tool's, or the task id).
func (cn *Conn) taskRequest(ctx context.Context, tool, method, name string, params map[string]any) (json.RawMessage, error) {
	c, _, err := cn.client()
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	if !cn.isLegacy() {
		version := c.ProtocolVersion()
		params["_meta"] = map[string]any{
			mcp.MetaKeyProtocolVersion:    version,
			mcp.MetaKeyClientCapabilities: map[string]any{"extensions": map[string]any{tasksExtension: map[string]any{}}},
		}
		header.Set(mcp.HeaderProtocolVersion, version)
		header.Set(mcp.HeaderMethod, method)
		if v, ok := mcp.EncodeHeaderValue(name); ok {
			header.Set(mcp.HeaderName, v)
		}
	}
	req := mgtransport.JSONRPCRequest{JSONRPC: mcp.JSONRPC_VERSION, Method: method, Params: params, Header: header,
		ID: mcp.NewRequestId(fmt.Sprintf("mcp-sync-task-%d", cn.taskIDs.Add(1)))}
	resp, err := c.GetTransport().SendRequest(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s: %v", tool, ErrTransport, method, err)
	}
	if resp.Error != nil {
		kind := wire.KindHandler
		switch resp.Error.Code {
		case mcp.INVALID_PARAMS:
			kind = wire.KindUnknown
			if method == "tools/call" {
				kind = wire.KindInvalidInput
			}
		case mcp.METHOD_NOT_FOUND, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY:
			kind = wire.KindUnknown
		case mcp.INTERNAL_ERROR:
			kind = wire.KindInternal
		}
		return nil, &CallError{Tool: tool, Kind: kind, Message: fmt.Sprintf("%s: %s", method, resp.Error.Message)}
	}
	if len(resp.Result) == 0 {
		return nil, fmt.Errorf("%s: %w: %s answered nothing", tool, ErrTransport, method)
	}
	return resp.Result, nil
}
