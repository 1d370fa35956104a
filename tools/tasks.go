package tools

// Durable tasks. An action called as a task returns a handle at once; the
// task is the action's run record (backend.Run), so its status, result and
// cancellation survive a restart, and get_run and the task methods read the
// same record.
//
// mcp-go 1.2.1 keeps tasks in an in-memory map and answers tasks/* from it
// (and runs the handler itself), with no hook to serve them from elsewhere,
// and it does not know the 2026-07-28 extension's shapes (resultType
// "task", tasks/get with the result inlined, tasks/update). So the task
// requests are answered here, before mcp-go sees them (see tasksio.go):
// tools/call of a task-capable action when the client asked for a task,
// and tasks/get, tasks/result, tasks/list, tasks/cancel, tasks/update.
// What is mcp-go's: the tools' execution.taskSupport field, the task types
// (mcp.Task, mcp.TaskStatus) and header helpers, the 2026-07-28 extension
// advertised through server.WithExtensions, and the 2025-11-25 tasks
// capability added to the initialize result by an after-initialize hook
// (server.WithTaskCapabilities would route tasks/* to its map).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TasksExtension is the 2026-07-28 Tasks extension's identifier.
const TasksExtension = "io.modelcontextprotocol/tasks"

// taskPollMs is the poll interval tasks suggest to clients.
const taskPollMs = 1000

// The task methods.
const (
	methodTasksGet    = "tasks/get"
	methodTasksResult = "tasks/result"
	methodTasksList   = "tasks/list"
	methodTasksCancel = "tasks/cancel"
	methodTasksUpdate = "tasks/update"
)

// taskSupport says how the named tool may run as a task: forbidden for
// mutators, read tools, unknown names and sensitive actions (a task's
// result is read by id, as get_run reads runs, and get_run never shows a
// sensitive action's output); for other client actions what
// Options.TaskSupport says, optional by default.
func (s *Server) taskSupport(name string) mcp.TaskSupport {
	if _, ok := s.actionOut[name]; !ok || s.sensitive[name] {
		return mcp.TaskSupportForbidden
	}
	if ts, ok := s.opts.TaskSupport[name]; ok && ts != "" {
		return ts
	}
	return mcp.TaskSupportOptional
}

// toolExecution is the execution field of an action's tool, or nil when it
// cannot run as a task.
func (s *Server) toolExecution(name string) *mcp.ToolExecution {
	ts := s.taskSupport(name)
	if ts == mcp.TaskSupportForbidden {
		return nil
	}
	return &mcp.ToolExecution{TaskSupport: ts}
}

// hookTasks advertises tasks: the 2026-07-28 extension through
// server/discover (an option, see New), and the 2025-11-25 capability in
// the initialize result; and it follows sessions' ends for SSE's answers.
func (s *Server) hookTasks(hooks *server.Hooks) {
	s.hookSessionEnds(hooks)
	hooks.AddAfterInitialize(func(_ context.Context, _ any, _ *mcp.InitializeRequest, res *mcp.InitializeResult) {
		if res == nil {
			return
		}
		caps := &mcp.TasksCapability{List: &struct{}{}, Cancel: &struct{}{}}
		caps.Requests = &mcp.TaskRequestsCapability{Tools: &struct {
			Call *struct{} `json:"call,omitempty"`
		}{Call: &struct{}{}}}
		res.Capabilities.Tasks = caps
	})
}

// rpcRequest is the part of a JSON-RPC request the task layer reads.
type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// taskCall is what a request says about its era and the client's
// declarations.
type taskCall struct {
	req      rpcRequest
	modern   bool // protocol 2026-07-28 or later
	declared bool // the client declared the tasks extension on this request
	version  string
	bad      bool // params did not decode
}

// taskParams are the params of tools/call and the task methods, as far as
// tasks need them.
type taskParams struct {
	Meta      *mcp.Meta       `json:"_meta"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Task      json.RawMessage `json:"task"`
	TaskID    *string         `json:"taskId"`
	Cursor    string          `json:"cursor"`
	// InputResponses are tasks/update's answers, by input request key, or
	// a tools/call's (see askBeforeTask), with its RequestState.
	InputResponses map[string]json.RawMessage `json:"inputResponses"`
	RequestState   string                     `json:"requestState"`
}

// rpcReply is a JSON-RPC response, with the HTTP status 2026-07-28 gives it.
type rpcReply struct {
	body   []byte
	status int
}

// taskMethod reports whether method is one the task layer may answer.
func taskMethod(method string) bool {
	switch method {
	case string(mcp.MethodToolsCall), methodTasksGet, methodTasksResult, methodTasksList, methodTasksCancel, methodTasksUpdate:
		return true
	}
	return false
}

// claimTask reports whether req is a task request this layer answers,
// without any I/O, so that a transport can decide in order and answer
// later: a tools/call of a task-capable action that asks for a task (or
// must have one), and the task methods.
func (s *Server) claimTask(req rpcRequest) (taskCall, taskParams, bool) {
	c := taskCall{req: req}
	var p taskParams
	if !taskMethod(req.Method) || len(req.ID) == 0 || string(req.ID) == "null" {
		return c, p, false
	}
	if len(req.Params) > 0 && json.Unmarshal(req.Params, &p) != nil {
		c.bad = true
		// mcp-go reports a malformed call; a malformed task method is ours.
		return c, p, req.Method != string(mcp.MethodToolsCall)
	}
	c.version = p.Meta.ProtocolVersion()
	c.modern = mcp.IsModernProtocol(c.version)
	if caps := p.Meta.ClientCapabilities(); caps != nil {
		_, c.declared = caps.Extensions[TasksExtension]
	}
	if req.Method != string(mcp.MethodToolsCall) {
		return c, p, true
	}
	if c.modern && s.missingNeed(p) != "" {
		return c, p, true // refused in answerTask
	}
	ts := s.taskSupport(p.Name)
	if ts == mcp.TaskSupportForbidden {
		return c, p, false
	}
	if c.modern {
		// A task-only tool called without the extension gets -32021 here.
		return c, p, c.declared || ts == mcp.TaskSupportRequired
	}
	// On 2025-11-25 the client asks with params.task; mcp-go rejects a
	// plain call of a task-only tool.
	return c, p, len(p.Task) > 0 && string(p.Task) != "null"
}

// answerTask answers a request claimTask claimed; header reads the HTTP
// request's headers (nil on stdio, which has none to check).
func (s *Server) answerTask(ctx context.Context, c taskCall, p taskParams, header headerFunc) rpcReply {
	req := c.req
	tool := "" // params.name is the tool only on a tools/call: elsewhere the client's word, not for the audit
	if req.Method == string(mcp.MethodToolsCall) {
		tool = p.Name
	}
	ctx = withCall(ctx, tool)
	if c.bad {
		return s.rpcError(req, true, mcp.INVALID_PARAMS, req.Method+": params are not a JSON object of the method's fields", nil)
	}
	// Removed methods are refused before anything else is checked.
	if c.modern && (req.Method == methodTasksResult || req.Method == methodTasksList) {
		return s.rpcError(req, true, mcp.METHOD_NOT_FOUND, fmt.Sprintf("%s was removed in protocol %s: tasks/get returns the result", req.Method, c.version), nil)
	}
	if c.modern && header != nil {
		if msg := taskHeaderMismatch(header, c, p); msg != "" {
			return s.rpcError(req, true, mcp.HEADER_MISMATCH, msg, nil)
		}
	}
	if req.Method == string(mcp.MethodToolsCall) {
		if need := s.missingNeed(p); c.modern && need != "" {
			return s.missingClientCapability(req, need)
		}
		if c.modern && !c.declared {
			return s.missingTasksCapability(req)
		}
		if c.modern && s.opts.AskBeforeTask[p.Name] {
			return s.askBeforeTask(ctx, c, p)
		}
		return s.startTask(ctx, c, p, nil)
	}
	switch {
	case !c.modern && req.Method == methodTasksUpdate:
		return s.rpcError(req, false, mcp.METHOD_NOT_FOUND, "tasks/update needs protocol 2026-07-28 or later", nil)
	case c.modern && !c.declared:
		return s.missingTasksCapability(req)
	}
	if req.Method == methodTasksList {
		return s.listTasks(ctx, c, p)
	}
	if p.TaskID == nil || *p.TaskID == "" {
		return s.rpcError(req, c.modern, mcp.INVALID_PARAMS, req.Method+": params.taskId is required", nil)
	}
	id := *p.TaskID
	switch req.Method {
	case methodTasksGet:
		return s.getTask(ctx, c, id)
	case methodTasksResult:
		return s.taskResult(ctx, c, id)
	case methodTasksCancel:
		return s.cancelTask(ctx, c, id)
	}
	// tasks/update delivers answers to the run's pending input requests;
	// answers for keys not outstanding are ignored, as the extension says.
	if ok, err := s.eng.AnswerRun(ctx, id, p.InputResponses); err != nil {
		return s.taskStoreError(c, id, err)
	} else if !ok {
		return s.unknownTask(c, id)
	}
	return s.rpcResult(c, map[string]any{})
}

// startTask records a run of the called action and answers with its task;
// answers are the client's to the action's input requests so far (see
// askBeforeTask).
func (s *Server) startTask(ctx context.Context, c taskCall, p taskParams, answers map[string]json.RawMessage) rpcReply {
	input := p.Arguments
	if len(input) == 0 || string(input) == "null" {
		input = json.RawMessage("{}")
	}
	if c.modern {
		// The run may ask the client for input (tasks/get shows the
		// requests, tasks/update answers them): it remembers what the
		// client declared it can answer. A 2025-11-25 task cannot be
		// answered so; its input requests fail saying so.
		ctx = backend.WithAsker(ctx, &callAsker{caps: p.Meta.ClientCapabilities()})
	}
	run, err := s.eng.StartRunAnswered(ctx, p.Name, input, answers)
	if err != nil {
		// An invalid input is the call's result, as for a direct call: the
		// model reads it and calls again; so is the caller's task limit,
		// as busy (retry later), like a full action queue.
		res := s.errorResult(ctx, "action", p.Name, err)
		if lim := (*backend.TaskLimitError)(nil); errors.As(err, &lim) {
			s.log.Warn("task refused: the caller's task limit", "action", p.Name, "max", lim.Max)
			res = errorWithKind(wire.KindBusy, err.Error())
		}
		if c.modern {
			res.ResultType = mcp.ResultTypeComplete
		}
		return s.rpcResultRaw(c, res)
	}
	t := taskOf(run)
	if c.modern {
		return s.rpcResultRaw(c, modernTask{task: t, ResultType: "task"})
	}
	return s.rpcResultRaw(c, legacyCreateTask{Task: t.legacy()})
}

func (s *Server) getTask(ctx context.Context, c taskCall, id string) rpcReply {
	run, ok, err := s.eng.Run(ctx, id)
	if err != nil {
		return s.taskStoreError(c, id, err)
	}
	if !ok {
		return s.unknownTask(c, id)
	}
	if !c.modern {
		return s.rpcResult(c, taskOf(run).legacy())
	}
	d := detailedTask{modernTask: modernTask{task: taskOf(run), ResultType: "complete"}}
	switch d.Status {
	case mcp.TaskStatusCompleted:
		d.Result = s.runResult(run)
	case mcp.TaskStatusFailed:
		d.Error = &taskError{Code: mcp.INTERNAL_ERROR, Message: run.Error}
	case mcp.TaskStatusInputRequired:
		d.InputRequests = run.InputRequests
	}
	return s.rpcResultRaw(c, d)
}

// taskResult answers 2025-11-25's tasks/result: it waits for the run to
// finish, then returns what the call would have.
func (s *Server) taskResult(ctx context.Context, c taskCall, id string) rpcReply {
	run, ok, err := s.eng.WaitRun(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return s.rpcError(c.req, false, mcp.REQUEST_INTERRUPTED, "tasks/result: the request ended before the task finished; ask again", nil)
		}
		return s.taskStoreError(c, id, err)
	}
	if !ok {
		return s.unknownTask(c, id)
	}
	if t := taskOf(run); t.Status == mcp.TaskStatusFailed {
		return s.rpcError(c.req, false, mcp.INTERNAL_ERROR, run.Error, nil)
	}
	res := s.runResult(run)
	meta := map[string]any{mcp.RelatedTaskMetaKey: map[string]any{"taskId": run.ID}}
	if res.Meta != nil {
		for k, v := range res.Meta.AdditionalFields {
			meta[k] = v
		}
	}
	res.Meta = &mcp.Meta{AdditionalFields: meta}
	return s.rpcResult(c, res)
}

func (s *Server) cancelTask(ctx context.Context, c taskCall, id string) rpcReply {
	if !c.modern {
		// 2025-11-25 refuses to cancel a finished task.
		if run, ok, err := s.eng.Run(ctx, id); err != nil {
			return s.taskStoreError(c, id, err)
		} else if ok && run.Done() {
			return s.rpcError(c.req, false, mcp.INVALID_PARAMS, fmt.Sprintf("task %s has already finished (%s); it cannot be cancelled", id, taskOf(run).Status), nil)
		}
	}
	run, ok, err := s.eng.CancelRun(ctx, id)
	if err != nil {
		return s.taskStoreError(c, id, err)
	}
	if !ok {
		return s.unknownTask(c, id)
	}
	if c.modern {
		return s.rpcResult(c, map[string]any{})
	}
	if v, found, err := s.eng.Run(ctx, id); err == nil && found {
		run = v
	}
	return s.rpcResult(c, taskOf(run).legacy())
}

// listTasks answers 2025-11-25's tasks/list from the runs started as tasks.
func (s *Server) listTasks(ctx context.Context, c taskCall, p taskParams) rpcReply {
	runs, next, err := s.eng.TaskRuns(ctx, p.Cursor, 100)
	if err != nil {
		return s.taskStoreError(c, "", err)
	}
	out := struct {
		Tasks      []legacyTask `json:"tasks"`
		NextCursor string       `json:"nextCursor,omitempty"`
	}{Tasks: make([]legacyTask, 0, len(runs)), NextCursor: next}
	for _, r := range runs {
		out.Tasks = append(out.Tasks, taskOf(r).legacy())
	}
	return s.rpcResult(c, out)
}

// runResult is the tool result a finished run stands for: the action's
// output as a direct call returns it, or its error as an isError result.
func (s *Server) runResult(run *backend.Run) *mcp.CallToolResult {
	switch {
	case run.Status == backend.RunSucceeded && run.Redacted: // a run a mutator enqueued
		return mcp.NewToolResultText(fmt.Sprintf("action %s succeeded; its output is sensitive and not shown", run.Action))
	case run.Status == backend.RunSucceeded:
		if res, err := outputResult(s.actionOut[run.Action], run.Output); err == nil {
			return res
		}
		return mcp.NewToolResultStructured(json.RawMessage(run.Output), string(run.Output))
	case run.Cancelled:
		return errorWithKind(wire.KindCancelled, fmt.Sprintf("action %s was cancelled", run.Action))
	}
	return errorWithKind(wire.KindHandler, run.Error)
}

func (s *Server) unknownTask(c taskCall, id string) rpcReply {
	return s.rpcError(c.req, c.modern, mcp.INVALID_PARAMS, fmt.Sprintf("%s: no task with id %q (it never existed, or it expired)", c.req.Method, id), nil)
}

func (s *Server) taskStoreError(c taskCall, id string, err error) rpcReply {
	return s.rpcError(c.req, c.modern, mcp.INTERNAL_ERROR, s.internalMessage(c.req.Method+" "+id, err, nil), nil)
}

func (s *Server) missingTasksCapability(req rpcRequest) rpcReply {
	data := map[string]any{"requiredCapabilities": map[string]any{"extensions": map[string]any{TasksExtension: map[string]any{}}}}
	return s.rpcError(req, true, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY,
		fmt.Sprintf("%s needs the %s extension: declare it in _meta[%q].extensions", req.Method, TasksExtension, mcp.MetaKeyClientCapabilities), data)
}

// isoTime formats t as tasks carry timestamps.
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
