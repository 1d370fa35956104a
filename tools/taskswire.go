package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
)

// task is a run as a task: the fields both protocol eras share.
type task struct {
	TaskID        string         `json:"taskId"`
	Status        mcp.TaskStatus `json:"status"`
	StatusMessage string         `json:"statusMessage,omitempty"`
	CreatedAt     string         `json:"createdAt"`
	LastUpdatedAt string         `json:"lastUpdatedAt"`
}

// modernTask is a task on the 2026-07-28 wire: CreateTaskResult
// (resultType "task") and the base of tasks/get's answer. Runs are kept
// until deleted, so ttlMs is null (unlimited).
type modernTask struct {
	ResultType string `json:"resultType"`
	task
	TTLMs          *int64 `json:"ttlMs"`
	PollIntervalMs int64  `json:"pollIntervalMs"`
}

// MarshalJSON keeps ttlMs present (as null) and sets the poll interval.
func (t modernTask) MarshalJSON() ([]byte, error) {
	type plain modernTask
	t.PollIntervalMs = taskPollMs
	return json.Marshal(plain(t))
}

// detailedTask is tasks/get's answer on 2026-07-28: the task with its
// result (completed) or error (failed) inlined.
type detailedTask struct {
	modernTask
	Result *mcp.CallToolResult `json:"result,omitempty"`
	Error  *taskError          `json:"error,omitempty"`
	// InputRequests are an input_required task's unanswered questions.
	InputRequests map[string]backend.InputRequest `json:"inputRequests,omitempty"`
}

// MarshalJSON flattens the embedded task (its own MarshalJSON would
// otherwise hide Result and Error).
func (d detailedTask) MarshalJSON() ([]byte, error) {
	base, err := json.Marshal(d.modernTask)
	if err != nil {
		return nil, err
	}
	extra := map[string]any{}
	if d.Result != nil {
		extra["result"] = d.Result
	}
	if d.Error != nil {
		extra["error"] = d.Error
	}
	if len(d.InputRequests) > 0 {
		extra["inputRequests"] = d.InputRequests
	}
	if len(extra) == 0 {
		return base, nil
	}
	more, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	return append(append(base[:len(base)-1], ','), more[1:]...), nil
}

// taskError is a failed task's JSON-RPC error.
type taskError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// legacyTask is a task on the 2025-11-25 wire.
type legacyTask struct {
	task
	TTL          *int64 `json:"ttl"`
	PollInterval int64  `json:"pollInterval"`
}

// legacyCreateTask is 2025-11-25's CreateTaskResult.
type legacyCreateTask struct {
	Task legacyTask     `json:"task"`
	Meta map[string]any `json:"_meta,omitempty"`
}

func (t task) legacy() legacyTask { return legacyTask{task: t, PollInterval: taskPollMs} }

// taskOf is run as a task. A failed run is a completed task whose result
// is an error when the action itself failed, and a failed task (a protocol
// error) when it failed outside the action's own words.
func taskOf(run *backend.Run) task {
	t := task{TaskID: run.ID, CreatedAt: isoTime(run.EnqueuedAt), LastUpdatedAt: isoTime(run.UpdatedAt())}
	switch run.Status {
	case backend.RunSucceeded:
		t.Status = mcp.TaskStatusCompleted
	case backend.RunFailed:
		switch {
		case run.Cancelled:
			t.Status, t.StatusMessage = mcp.TaskStatusCancelled, run.Error
		case run.ErrorKind == backend.RunErrorInternal:
			t.Status, t.StatusMessage = mcp.TaskStatusFailed, run.Error
		default:
			t.Status, t.StatusMessage = mcp.TaskStatusCompleted, "the action failed: "+run.Error
		}
	case backend.RunRunning:
		t.Status, t.StatusMessage = mcp.TaskStatusWorking, fmt.Sprintf("running (attempt %d)", run.Attempts)
		if len(run.InputRequests) > 0 {
			t.Status, t.StatusMessage = mcp.TaskStatusInputRequired, "waiting for the client's answers (tasks/update)"
		}
	default:
		t.Status, t.StatusMessage = mcp.TaskStatusWorking, "queued"
		if run.Attempts > 0 {
			t.StatusMessage = fmt.Sprintf("waiting to retry after attempt %d failed: %s", run.Attempts, run.Error)
		}
	}
	return t
}

// headerFunc reads an HTTP request header; nil off HTTP.
type headerFunc func(string) string

// taskHeaderMismatch checks a 2026-07-28 HTTP request's Mcp-Method and
// Mcp-Name headers against its body (Mcp-Name carries the task id on the
// task methods, the tool's name on tools/call), and says what is wrong, or
// "". Like mcp-go, it checks only requests that carry MCP-Protocol-Version.
func taskHeaderMismatch(header headerFunc, c taskCall, p taskParams) string {
	hv := header(mcp.HeaderProtocolVersion)
	if hv == "" {
		return ""
	}
	if hv != c.version {
		return fmt.Sprintf("header mismatch: %s header %s does not match the request's %s", mcp.HeaderProtocolVersion, hv, c.version)
	}
	m := header(mcp.HeaderMethod)
	if m == "" {
		return "header mismatch: " + mcp.HeaderMethod + ": missing required header"
	}
	if m != c.req.Method {
		return fmt.Sprintf("header mismatch: %s: header value %q does not match body value %q", mcp.HeaderMethod, m, c.req.Method)
	}
	want := p.Name
	if c.req.Method != string(mcp.MethodToolsCall) {
		if c.req.Method == methodTasksList || p.TaskID == nil {
			return ""
		}
		want = *p.TaskID
	}
	n := strings.TrimSpace(header(mcp.HeaderName)) // RFC 9110 §5.5: optional whitespace is not the value's
	if n == "" {
		return fmt.Sprintf("header mismatch: %s: missing required header for method %q", mcp.HeaderName, c.req.Method)
	}
	got, ok := mcp.DecodeHeaderValue(n)
	if !ok {
		return "header mismatch: " + mcp.HeaderName + ": invalid Base64 encoding"
	}
	if got != want {
		return fmt.Sprintf("header mismatch: %s: header value %q does not match body value %q", mcp.HeaderName, got, want)
	}
	return ""
}

// rpcResult answers c with result v; on 2026-07-28 the result gets
// resultType "complete" unless it has a resultType.
func (s *Server) rpcResult(c taskCall, v any) rpcReply {
	body, err := json.Marshal(v)
	if err != nil {
		return s.rpcError(c.req, c.modern, mcp.INTERNAL_ERROR, s.internalMessage(c.req.Method, err, nil), nil)
	}
	if c.modern && bytes.HasPrefix(body, []byte("{")) && !bytes.Contains(body, []byte(`"resultType"`)) {
		if len(body) == 2 {
			body = []byte(`{"resultType":"complete"}`)
		} else {
			body = append([]byte(`{"resultType":"complete",`), body[1:]...)
		}
	}
	return rpcReply{body: envelope(c.req.ID, "result", body), status: http.StatusOK}
}

// rpcResultRaw answers c with result v as it marshals.
func (s *Server) rpcResultRaw(c taskCall, v any) rpcReply {
	body, err := json.Marshal(v)
	if err != nil {
		return s.rpcError(c.req, c.modern, mcp.INTERNAL_ERROR, s.internalMessage(c.req.Method, err, nil), nil)
	}
	return rpcReply{body: envelope(c.req.ID, "result", body), status: http.StatusOK}
}

// rpcError answers req with a JSON-RPC error; modern says the HTTP status
// follows 2026-07-28's mapping.
func (s *Server) rpcError(req rpcRequest, modern bool, code int, msg string, data any) rpcReply {
	e := struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{code, msg, data}
	body, err := json.Marshal(e)
	if err != nil { // data is ours: cannot happen
		body = []byte(`{"code":-32603,"message":"internal error"}`)
	}
	status := http.StatusOK
	if modern {
		switch code {
		case mcp.METHOD_NOT_FOUND:
			status = http.StatusNotFound
		case mcp.HEADER_MISMATCH, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, mcp.INVALID_REQUEST, mcp.INVALID_PARAMS, mcp.PARSE_ERROR:
			status = http.StatusBadRequest
		}
	}
	return rpcReply{body: envelope(req.ID, "error", body), status: status}
}

func envelope(id json.RawMessage, key string, body []byte) []byte {
	out := make([]byte, 0, len(body)+len(id)+40)
	out = append(out, `{"jsonrpc":"2.0","id":`...)
	out = append(out, id...)
	out = append(out, `,"`...)
	out = append(out, key...)
	out = append(out, `":`...)
	out = append(out, body...)
	return append(out, '}')
}
