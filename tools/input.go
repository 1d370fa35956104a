package tools

// Input-required results (SEP-2322, protocol 2026-07-28): an action's input
// requests (backend.ActionCtx.Elicit, Sample, Roots, Ask) end the call with
// resultType "input_required", the requests, and a requestState; the client
// answers them and calls again with inputResponses and the state, and the
// action runs again from the start, finding its answers. The state carries
// the answers of earlier rounds, so a multi-round call needs nothing kept
// on the server; it is signed (HMAC-SHA256, crypto/hmac, with a key drawn at
// start-up), so a state the client altered, or one from another server
// process, is refused. Clients of 2025-11-25 and earlier get the same
// requests as server-initiated requests: mcp-go's bridge sends them and
// calls the handler again with the answers.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
)

// stateTTL is how long a requestState stays good: a user answering a form
// may take a while, but not a day.
const stateTTL = time.Hour

// errBadState is a requestState that fails its check.
var errBadState = errors.New("requestState failed its integrity check (altered, truncated, expired, or issued by another server process): call the tool again without requestState and inputResponses to start over")

// stateKey is the per-process key that signs request states.
type stateKey [32]byte

func newStateKey() (stateKey, error) {
	var k stateKey
	_, err := rand.Read(k[:])
	return k, err
}

// callState is what a requestState carries.
type callState struct {
	Tool    string                     `json:"t"`
	Answers map[string]json.RawMessage `json:"a,omitempty"`
	Expires int64                      `json:"e"`
}

func (k stateKey) sign(st callState) (string, error) {
	payload, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k[:])
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil)), nil
}

// open checks a requestState for tool and returns what it carries.
func (k stateKey) open(s, tool string, now time.Time) (callState, error) {
	var st callState
	p, sig, ok := strings.Cut(s, ".")
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil {
		return st, errBadState
	}
	m := hmac.New(sha256.New, k[:])
	m.Write(payload)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return st, errBadState
	}
	if err := json.Unmarshal(payload, &st); err != nil || st.Tool != tool || now.Unix() > st.Expires {
		return callState{}, errBadState
	}
	return st, nil
}

// callAsker answers one tool call's input requests from the answers the
// client sent (this round's and, through requestState, earlier rounds'),
// and collects those still to ask.
type callAsker struct {
	caps    *mcp.ClientCapabilities
	mu      sync.Mutex
	answers map[string]json.RawMessage
	used    map[string]json.RawMessage // answers the action read: the next state's
	pending map[string]backend.InputRequest
}

// newAsker builds the asker of a tool call of tool; a requestState that
// fails its check is an error (the call is answered with a JSON-RPC error).
func (s *Server) newAsker(ctx context.Context, tool string, req mcp.CallToolRequest) (*callAsker, error) {
	a := &callAsker{answers: map[string]json.RawMessage{}, used: map[string]json.RawMessage{}, pending: map[string]backend.InputRequest{}}
	a.caps = req.Params.Meta.ClientCapabilities()
	if a.caps == nil {
		sess := server.ClientSessionFromContext(ctx)
		if info, ok := sess.(server.SessionWithClientInfo); ok {
			c := info.GetClientCapabilities()
			// What the session cannot carry (mcp-go's SSE sessions send no
			// server-initiated requests) the client cannot answer.
			if _, ok := sess.(server.SessionWithElicitation); !ok {
				c.Elicitation = nil
			}
			if _, ok := sess.(server.SessionWithSampling); !ok {
				c.Sampling = nil
			}
			if _, ok := sess.(server.SessionWithRoots); !ok {
				c.Roots = nil
			}
			a.caps = &c
		}
	}
	if rs := req.Params.RequestState; rs != "" {
		st, err := s.stateKey.open(rs, tool, time.Now())
		if err != nil {
			return nil, fmt.Errorf("tool %s: %w", tool, err)
		}
		maps.Copy(a.answers, st.Answers)
	}
	for k, v := range req.Params.InputResponses {
		raw, err := json.Marshal(v)
		if err == nil {
			a.answers[k] = raw
		}
	}
	return a, nil
}

func (a *callAsker) Can(capability string) bool {
	if a.caps == nil {
		return false
	}
	switch capability {
	case backend.CapElicitation:
		return a.caps.Elicitation != nil
	case backend.CapSampling:
		return a.caps.Sampling != nil
	case backend.CapRoots:
		return a.caps.Roots != nil
	}
	return false
}

func (a *callAsker) Ask(_ context.Context, reqs map[string]backend.InputRequest) (map[string]json.RawMessage, error) {
	for _, r := range reqs {
		if c := backend.CapabilityOf(r.Method); !a.Can(c) {
			return nil, &backend.MissingCapabilityError{Capability: c}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]json.RawMessage, len(reqs))
	for k, r := range reqs {
		if v, ok := a.answers[k]; ok && answers(r.Method, v) {
			out[k], a.used[k] = v, v
			continue
		}
		a.pending[k] = r // unanswered, or answered with something else: ask again
	}
	if len(out) < len(reqs) {
		return nil, backend.ErrInputRequired
	}
	return out, nil
}

// answers reports whether v has the shape of method's result.
func answers(method string, v json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil || m == nil {
		return false
	}
	switch method {
	case backend.MethodElicit:
		var action string
		return json.Unmarshal(m["action"], &action) == nil && (action == "accept" || action == "decline" || action == "cancel")
	case backend.MethodSample:
		return len(m["content"]) > 0
	case backend.MethodRoots:
		var roots []json.RawMessage
		return json.Unmarshal(m["roots"], &roots) == nil
	}
	return false
}

// inputRequired is the call's answer while input requests are pending, or
// nil when none are.
func (s *Server) inputRequired(tool string, a *callAsker) (*mcp.CallToolResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) == 0 {
		return nil, nil
	}
	state, err := s.stateKey.sign(callState{Tool: tool, Answers: a.used, Expires: time.Now().Add(stateTTL).Unix()})
	if err != nil {
		return nil, err
	}
	b := server.NewInputRequestBuilder(state)
	for k, r := range a.pending {
		var ir mcp.InputRequest
		raw, err := json.Marshal(map[string]any{"method": r.Method, "params": r.Params})
		if err == nil {
			err = json.Unmarshal(raw, &ir)
		}
		if err != nil {
			return nil, fmt.Errorf("input request %q: %w", k, err)
		}
		switch ir.Method {
		case mcp.MethodElicitationCreate:
			b.Elicit(k, *ir.Elicitation)
		case mcp.MethodSamplingCreateMessage:
			b.Sample(k, *ir.Sampling)
		default:
			b.Roots(k)
		}
	}
	return b.ToolResult(), nil
}

// missingNeed is the first capability Options.ClientNeeds names for the
// called tool that the call's client did not declare, or "".
func (s *Server) missingNeed(p taskParams) string {
	needs := s.opts.ClientNeeds[p.Name]
	if len(needs) == 0 {
		return ""
	}
	a := &callAsker{caps: p.Meta.ClientCapabilities()}
	for _, n := range needs {
		if !a.Can(n) {
			return n
		}
	}
	return ""
}

func (s *Server) missingClientCapability(req rpcRequest, need string) rpcReply {
	data := map[string]any{"requiredCapabilities": map[string]any{need: map[string]any{}}}
	return s.rpcError(req, true, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY,
		fmt.Sprintf("tools/call: this tool needs the client's %s capability: declare it in _meta[%q]", need, mcp.MetaKeyClientCapabilities), data)
}
