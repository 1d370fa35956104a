package backend

// Input requests: an action asks the client that called it for input
// (elicitation), for a completion from the client's model (sampling) or for
// its roots. The tools layer installs an [Asker] per call (WithAsker); on
// protocol 2026-07-28 a call whose answers are not there yet ends with
// ErrInputRequired and is answered with the requests, and the client calls
// again with the answers, so the action runs again from the start and
// finds them. Ask for input before writing: writes made before a question
// are made again on every round.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/mcp-sync/mcp-sync/backend/ai"
)

// Input request methods (the MCP methods the client answers).
const (
	MethodElicit = "elicitation/create"
	MethodSample = "sampling/createMessage"
	MethodRoots  = "roots/list"
)

// Client capabilities an input request needs.
const (
	CapElicitation = "elicitation"
	CapSampling    = "sampling"
	CapRoots       = "roots"
)

// CapabilityOf is the client capability method needs ("" for none known).
func CapabilityOf(method string) string {
	switch method {
	case MethodElicit:
		return CapElicitation
	case MethodSample:
		return CapSampling
	case MethodRoots:
		return CapRoots
	}
	return ""
}

// ErrInputRequired ends an action whose input requests are not answered
// yet; return it (or an error wrapping it) from the action. The caller is
// answered with the requests and calls again with the answers.
var ErrInputRequired = errors.New("the action needs input from the client first")

// MissingCapabilityError says the client did not declare a capability an
// action's input request needs.
type MissingCapabilityError struct{ Capability string }

func (e *MissingCapabilityError) Error() string {
	return fmt.Sprintf("this action needs the client's %s capability, which the client did not declare or its transport cannot carry; call it from a client that supports %s (over streamable HTTP or stdio)", e.Capability, e.Capability)
}

// InputRequest is one question for the client.
type InputRequest struct {
	Method string          `json:"method"`           // MethodElicit, MethodSample or MethodRoots
	Params json.RawMessage `json:"params,omitempty"` // the method's params; nil for roots/list
}

// Asker answers an action's input requests for the call that runs it.
type Asker interface {
	// Can reports whether the client declared capability (CapElicitation, …).
	Can(capability string) bool
	// Ask returns the client's answers (each the method's result as JSON),
	// by key, to every request in reqs, or an error: ErrInputRequired while
	// some are unanswered (they are sent to the client with the call's
	// answer), *MissingCapabilityError when the client cannot answer one.
	Ask(ctx context.Context, reqs map[string]InputRequest) (map[string]json.RawMessage, error)
}

type askerKey struct{}

// WithAsker returns a context whose action calls put their input requests
// to a.
func WithAsker(ctx context.Context, a Asker) context.Context {
	return context.WithValue(ctx, askerKey{}, a)
}

func askerFrom(ctx context.Context) Asker {
	a, _ := ctx.Value(askerKey{}).(Asker)
	return a
}

// ClientCan reports whether the client that called the action declared
// capability (CapElicitation, CapSampling, CapRoots); false for an enqueued
// run, which has no client.
func (c *ActionCtx) ClientCan(capability string) bool {
	a := askerFrom(c)
	return a != nil && a.Can(capability)
}

// Ask puts input requests to the client, all in one round, and returns the
// answers by key. Keys name the requests across rounds: use the same key
// for the same question every time the action runs.
func (c *ActionCtx) Ask(reqs map[string]InputRequest) (map[string]json.RawMessage, error) {
	a := askerFrom(c)
	if a == nil {
		return nil, fmt.Errorf("action %s asks its caller for input, but it was not called by a client that can answer (an enqueued run, or a server-side call)", c.name)
	}
	for key, r := range reqs {
		if CapabilityOf(r.Method) == "" {
			return nil, fmt.Errorf("action %s: input request %q: unknown method %q", c.name, key, r.Method)
		}
	}
	return a.Ask(c, reqs)
}

// Elicitation is the user's answer to [ActionCtx.Elicit].
type Elicitation struct {
	// Action is "accept", "decline" or "cancel".
	Action string `json:"action"`
	// Content holds the accepted form's values.
	Content map[string]any `json:"content,omitempty"`
}

// Accepted reports whether the user accepted the form.
func (e Elicitation) Accepted() bool { return e.Action == "accept" }

// Elicit asks the user, through the client, to fill a form: message says
// what and why; requestedSchema is a flat JSON Schema object of primitive
// properties (nil: none, a plain confirmation).
func (c *ActionCtx) Elicit(key, message string, requestedSchema map[string]any) (Elicitation, error) {
	if requestedSchema == nil {
		requestedSchema = map[string]any{"type": "object", "properties": map[string]any{}}
	}
	params, err := json.Marshal(map[string]any{"message": message, "requestedSchema": requestedSchema})
	if err != nil {
		return Elicitation{}, fmt.Errorf("action %s: elicit %q: %w", c.name, key, err)
	}
	raw, err := c.ask1(key, InputRequest{Method: MethodElicit, Params: params})
	if err != nil {
		return Elicitation{}, err
	}
	var e Elicitation
	if err := json.Unmarshal(raw, &e); err != nil || e.Action == "" {
		return Elicitation{}, fmt.Errorf("action %s: the client's answer to %q is not an elicitation result", c.name, key)
	}
	return e, nil
}

// SampleRequest is a completion asked of the client's model.
type SampleRequest struct {
	Prompt    string // the user message
	System    string // optional system prompt
	MaxTokens int    // 0: 1000
}

// SampleResult is the client model's answer.
type SampleResult struct {
	Text       string
	Model      string
	StopReason string
}

// Sample asks the client's model for a completion (MCP sampling).
func (c *ActionCtx) Sample(key string, req SampleRequest) (SampleResult, error) {
	if req.MaxTokens <= 0 {
		req.MaxTokens = 1000
	}
	p := map[string]any{
		"messages":  []any{map[string]any{"role": "user", "content": map[string]any{"type": "text", "text": req.Prompt}}},
		"maxTokens": req.MaxTokens,
	}
	if req.System != "" {
		p["systemPrompt"] = req.System
	}
	params, err := json.Marshal(p)
	if err != nil {
		return SampleResult{}, fmt.Errorf("action %s: sample %q: %w", c.name, key, err)
	}
	raw, err := c.ask1(key, InputRequest{Method: MethodSample, Params: params})
	if err != nil {
		return SampleResult{}, err
	}
	return decodeSample(c.name, key, raw)
}

// decodeSample reads a sampling result; its content is one block or (from
// 2025-11-25) an array of blocks, whose text blocks are joined.
func decodeSample(action, key string, raw json.RawMessage) (SampleResult, error) {
	var r struct {
		Model      string          `json:"model"`
		StopReason string          `json:"stopReason"`
		Content    json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Content) == 0 {
		return SampleResult{}, fmt.Errorf("action %s: the client's answer to %q is not a sampling result", action, key)
	}
	type block struct{ Type, Text string }
	var blocks []block
	if strings.HasPrefix(strings.TrimSpace(string(r.Content)), "[") {
		if err := json.Unmarshal(r.Content, &blocks); err != nil {
			return SampleResult{}, fmt.Errorf("action %s: the client's answer to %q has malformed content", action, key)
		}
	} else {
		var b block
		if err := json.Unmarshal(r.Content, &b); err != nil {
			return SampleResult{}, fmt.Errorf("action %s: the client's answer to %q has malformed content", action, key)
		}
		blocks = []block{b}
	}
	var text strings.Builder
	for _, b := range blocks {
		if b.Type == "text" {
			text.WriteString(b.Text)
		}
	}
	return SampleResult{Text: text.String(), Model: r.Model, StopReason: r.StopReason}, nil
}

// Root is one of the client's roots.
type Root struct {
	URI  string `json:"uri"`
	Name string `json:"name,omitempty"`
}

// Roots asks the client for its roots (directories or other locations it
// lets the server work in).
func (c *ActionCtx) Roots(key string) ([]Root, error) {
	raw, err := c.ask1(key, InputRequest{Method: MethodRoots})
	if err != nil {
		return nil, err
	}
	var r struct {
		Roots []Root `json:"roots"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("action %s: the client's answer to %q is not a roots list", c.name, key)
	}
	return r.Roots, nil
}

func (c *ActionCtx) ask1(key string, r InputRequest) (json.RawMessage, error) {
	ans, err := c.Ask(map[string]InputRequest{key: r})
	if err != nil {
		return nil, err
	}
	return ans[key], nil
}

// withSampler gives ai.ClientModel the client's model when the client can
// sample. Its requests are keyed by their order in the call ("ai-1", …),
// which is the same on every round as long as the action asks in the same
// order.
func withSampler(ac *ActionCtx) context.Context {
	if !ac.ClientCan(CapSampling) {
		return ac.Context
	}
	n := 0
	var mu sync.Mutex
	return ai.WithSampler(ac.Context, func(_ context.Context, req ai.Request) (string, error) {
		mu.Lock()
		n++
		key := fmt.Sprintf("ai-%d", n)
		mu.Unlock()
		r, err := ac.Sample(key, SampleRequest{Prompt: req.Prompt, System: req.System, MaxTokens: req.MaxTokens})
		return r.Text, err
	})
}
