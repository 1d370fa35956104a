package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// askBeforeTask answers a 2026-07-28 tools/call, with the tasks extension,
// of an action in Options.AskBeforeTask. A call without answers runs the
// action as a direct call would (the same limits, progress and asker), so
// that its first questions come back as an input_required result and no
// task exists yet; a call with answers (inputResponses, and the
// requestState that carries earlier rounds') starts the task with them.
// The task's CreateTaskResult carries no requestState: the state belongs to
// the rounds before it.
func (s *Server) askBeforeTask(ctx context.Context, c taskCall, p taskParams) rpcReply {
	if p.RequestState == "" && len(p.InputResponses) == 0 {
		var req mcp.CallToolRequest
		req.Method = string(mcp.MethodToolsCall)
		if err := json.Unmarshal(c.req.Params, &req.Params); err != nil {
			return s.rpcError(c.req, true, mcp.INVALID_PARAMS, "tools/call: params are not a JSON object of the method's fields", nil)
		}
		res, err := s.callAction(ctx, p.Name, s.actionOut[p.Name], req)
		if err != nil { // only a requestState that fails its check, and there is none
			return s.rpcError(c.req, true, mcp.INVALID_PARAMS, err.Error(), nil)
		}
		if res.ResultType == "" {
			res.ResultType = mcp.ResultTypeComplete
		}
		return s.rpcResultRaw(c, res)
	}
	answers := map[string]json.RawMessage{}
	if p.RequestState != "" {
		st, err := s.stateKey.open(p.RequestState, p.Name, time.Now())
		if err != nil {
			return s.rpcError(c.req, true, mcp.INVALID_PARAMS, fmt.Sprintf("tool %s: %v", p.Name, err), nil)
		}
		maps.Copy(answers, st.Answers)
	}
	maps.Copy(answers, p.InputResponses)
	return s.startTask(ctx, c, p, answers)
}
