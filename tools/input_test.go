package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
)

var (
	askName   = schema.Action[EchoIn, string]("askName", "Asks the user's name")
	twoRounds = schema.Action[EchoIn, string]("twoRounds", "Asks a name, then a colour")
	askModel  = schema.Action[EchoIn, string]("askModel", "Asks the client's model")
	inputSc   = schema.MustDefine(1, askName, twoRounds, askModel)
)

var nameForm = map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}}

func inputEngine(t *testing.T) *backend.Engine {
	t.Helper()
	cfg := backend.Config{Schema: inputSc, Actions: []backend.ActionImpl{
		backend.Action(askName, func(ctx *backend.ActionCtx, _ EchoIn) (string, error) {
			e, err := ctx.Elicit("name", "Your name?", nameForm)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Hello, %v (%s)", e.Content["name"], e.Action), nil
		}),
		backend.Action(twoRounds, func(ctx *backend.ActionCtx, _ EchoIn) (string, error) {
			n, err := ctx.Elicit("step1", "Name?", nameForm)
			if err != nil {
				return "", err
			}
			c, err := ctx.Elicit("step2", "Colour?", nameForm)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%v likes %v", n.Content["name"], c.Content["name"]), nil
		}),
		backend.Action(askModel, func(ctx *backend.ActionCtx, in EchoIn) (string, error) {
			r, err := ctx.Sample("q", backend.SampleRequest{Prompt: in.Text})
			return r.Text, err
		}),
	}}
	eng, err := backend.Open(cfg, backend.Options{Path: filepath.Join(t.TempDir(), "i.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

func TestInputRequiredModern(t *testing.T) {
	_, base := serveOpts(t, inputEngine(t), tools.Options{ClientNeeds: map[string][]string{"askModel": {backend.CapSampling}}}, tools.HTTPOptions{})
	elicit := rpcOpts{modern: true, caps: map[string]any{"elicitation": map[string]any{}}}
	callWith := func(name string, extra map[string]any, o rpcOpts) map[string]any {
		o.name = name
		params := map[string]any{"name": name, "arguments": map[string]any{"text": "x"}}
		for k, v := range extra {
			params[k] = v
		}
		_, out := taskRPC(t, base, "tools/call", params, o)
		return out
	}
	answer := func(name string) map[string]any {
		return map[string]any{"action": "accept", "content": map[string]any{"name": name}}
	}

	r1 := result(t, callWith("askName", nil, elicit))
	reqs, _ := r1["inputRequests"].(map[string]any)
	state, _ := r1["requestState"].(string)
	if r1["resultType"] != "input_required" || state == "" || reqs["name"] == nil || reqs["name"].(map[string]any)["method"] != "elicitation/create" {
		t.Fatalf("round 1: %v", r1)
	}
	r2 := result(t, callWith("askName", map[string]any{"inputResponses": map[string]any{"name": answer("Alice"), "extra": answer("x")}, "requestState": state}, elicit))
	if r2["resultType"] != "complete" || !strings.Contains(fmt.Sprint(r2["content"]), "Hello, Alice (accept)") {
		t.Fatalf("round 2: %v", r2)
	}
	// An answer of the wrong shape is asked again, not used.
	if r := result(t, callWith("askName", map[string]any{"inputResponses": map[string]any{"name": 12345}}, elicit)); r["resultType"] != "input_required" {
		t.Errorf("a malformed answer must be asked again: %v", r)
	}
	// A tampered state is refused with a JSON-RPC error; so is another tool's.
	for what, st := range map[string]string{"tampered": state + "x", "swapped": strings.Replace(state, ".", ".A", 1)} {
		out := callWith("askName", map[string]any{"inputResponses": map[string]any{"name": answer("Eve")}, "requestState": st}, elicit)
		if out["error"] == nil || !strings.Contains(fmt.Sprint(out["error"]), "integrity") {
			t.Errorf("%s state: %v", what, out)
		}
	}
	if out := callWith("twoRounds", map[string]any{"inputResponses": map[string]any{"step1": answer("Eve")}, "requestState": state}, elicit); out["error"] == nil {
		t.Errorf("askName's state accepted by twoRounds: %v", out)
	}

	// Two rounds: the second state carries the first answer.
	a := result(t, callWith("twoRounds", nil, elicit))
	b := result(t, callWith("twoRounds", map[string]any{"inputResponses": map[string]any{"step1": answer("Bob")}, "requestState": a["requestState"]}, elicit))
	if b["resultType"] != "input_required" || b["inputRequests"].(map[string]any)["step2"] == nil || b["requestState"] == a["requestState"] {
		t.Fatalf("round 2 of 3: %v", b)
	}
	c := result(t, callWith("twoRounds", map[string]any{"inputResponses": map[string]any{"step2": answer("blue")}, "requestState": b["requestState"]}, elicit))
	if !strings.Contains(fmt.Sprint(c["content"]), "Bob likes blue") {
		t.Fatalf("round 3: %v", c)
	}

	// Without the elicitation capability: a tool error naming it.
	if r := result(t, callWith("askName", nil, rpcOpts{modern: true})); r["isError"] != true || !strings.Contains(fmt.Sprint(r["content"]), "elicitation capability") {
		t.Errorf("no capability: %v", r)
	}
	// ClientNeeds: refused before the action runs, -32021, HTTP 400.
	o := rpcOpts{modern: true, name: "askModel"}
	status, out := taskRPC(t, base, "tools/call", map[string]any{"name": "askModel", "arguments": map[string]any{"text": "x"}}, o)
	data, _ := out["error"].(map[string]any)["data"].(map[string]any)
	if status != 400 || rpcErrCode(out) != mcp.MISSING_REQUIRED_CLIENT_CAPABILITY || data["requiredCapabilities"].(map[string]any)["sampling"] == nil {
		t.Errorf("ClientNeeds: %d %v", status, out)
	}
}

type elicitor struct{ name string }

func (e elicitor) Elicit(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept,
		Content: map[string]any{"name": e.name}}}, nil
}

// TestInputRequiredClients drives the input rounds with mcp-go's client:
// on 2026-07-28 it retries with the answers itself; on 2025-11-25 mcp-go's
// server bridge sends elicitation/create as a server-initiated request.
func TestInputRequiredClients(t *testing.T) {
	_, base := serveOpts(t, inputEngine(t), tools.Options{}, tools.HTTPOptions{})
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, base, e, nil, client.WithElicitationHandler(elicitor{"Zoe"}))
			res := call(t, c, "twoRounds", map[string]any{"text": "x"})
			if e.transport == "sse" && e.legacy {
				// mcp-go's SSE sessions carry no server-initiated requests;
				// on 2026-07-28 the client answers input-required results.
				if !res.IsError || !strings.Contains(text(res), "elicitation capability") {
					t.Errorf("twoRounds over SSE: %q", text(res))
				}
				return
			}
			if got := text(res); got != "Zoe likes Zoe" {
				t.Errorf("twoRounds: %q", got)
			}
		})
	}
}

// TestTaskInput runs an action that asks for input as a task: tasks/get
// shows input_required and the request, tasks/update answers, the task
// completes with the answer.
func TestTaskInput(t *testing.T) {
	eng := inputEngine(t)
	_, base := serveOpts(t, eng, tools.Options{}, tools.HTTPOptions{})
	o := rpcOpts{modern: true, declared: true, name: "twoRounds", caps: map[string]any{"elicitation": map[string]any{}}}
	_, out := taskRPC(t, base, "tools/call", map[string]any{"name": "twoRounds", "arguments": map[string]any{"text": "x"}}, o)
	id, _ := result(t, out)["taskId"].(string)
	if id == "" {
		t.Fatalf("no task: %v", out)
	}
	o.name = id
	waitInput := func(key string) {
		t.Helper()
		var last map[string]any
		for deadline := time.Now().Add(testWait); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			_, out := taskRPC(t, base, "tasks/get", map[string]any{"taskId": id}, o)
			last = result(t, out)
			if reqs, _ := last["inputRequests"].(map[string]any); last["status"] == "input_required" && reqs[key] != nil {
				return
			}
		}
		t.Fatalf("task never asked for %s: %v", key, last)
	}
	update := func(key, val string) {
		_, out := taskRPC(t, base, "tasks/update", map[string]any{"taskId": id, "inputResponses": map[string]any{
			key: map[string]any{"action": "accept", "content": map[string]any{"name": val}}, "nobody-asked": map[string]any{}}}, o)
		if r := result(t, out); len(r) != 1 || r["resultType"] != "complete" {
			t.Errorf("tasks/update ack: %v", r)
		}
	}
	waitInput("step1")
	update("step1", "Ann")
	waitInput("step2")
	update("step2", "green")
	done := pollTask(t, base, id, o)
	if done["status"] != "completed" || !strings.Contains(fmt.Sprint(done["result"]), "Ann likes green") {
		t.Fatalf("finished: %v", done)
	}
	if run, _, _ := eng.Run(context.Background(), id); len(run.InputRequests) != 0 {
		t.Errorf("finished run still asks: %v", run.InputRequests)
	}
}

type sampler struct{}

func (sampler) CreateMessage(_ context.Context, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	// The content arrives typed or as a map, depending on the era's decoding.
	var c struct{ Text string }
	raw, _ := json.Marshal(req.Messages[0].Content)
	_ = json.Unmarshal(raw, &c)
	prompt := c.Text
	return &mcp.CreateMessageResult{SamplingMessage: mcp.SamplingMessage{Role: mcp.RoleAssistant,
		Content: mcp.NewTextContent("model says: " + prompt)}, Model: "host-model"}, nil
}

// TestClientModel runs an AI action on ai.ClientModel: the client's model
// answers through sampling, with no provider of the app's own.
func TestClientModel(t *testing.T) {
	write := schema.Action[EchoIn, string]("write", "Writes with the app's AI provider")
	cfg := backend.Config{Schema: schema.MustDefine(1, write), AI: ai.ClientModel{}, Actions: []backend.ActionImpl{
		backend.Action(write, func(ctx *backend.ActionCtx, in EchoIn) (string, error) {
			return ai.Complete(ctx, ctx.AI(), ai.Request{Prompt: in.Text})
		})}}
	eng, err := backend.Open(cfg, backend.Options{Path: filepath.Join(t.TempDir(), "m.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	_, base := serveOpts(t, eng, tools.Options{}, tools.HTTPOptions{})
	for _, e := range eras[:2] {
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, base, e, nil, client.WithSamplingHandler(sampler{}))
			if got := text(call(t, c, "write", map[string]any{"text": "a haiku"})); got != "model says: a haiku" {
				t.Errorf("with sampling: %q", got)
			}
			plain, _ := connect(t, base, e, nil)
			if res := call(t, plain, "write", map[string]any{"text": "a haiku"}); !res.IsError || !strings.Contains(text(res), "cannot sample") {
				t.Errorf("without sampling: %q", text(res))
			}
		})
	}
}
