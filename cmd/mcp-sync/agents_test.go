//go:build linux || darwin

package main

// Interop with agent frameworks' own MCP clients, from npm (pinned in
// testdata/interop): LangChain's MCP adapters, the Vercel AI SDK's MCP client
// and the OpenAI Agents SDK, driven by testdata/interop/agents.mjs on Node 22.
// Each lists the todo app's tools, converts every one the way the framework
// hands it to a model (strict mode on where it has one), and calls every one
// through the framework's own tool object, on every transport it supports.
//
// Transports and eras, read from the packages (node_modules):
//   - LangChain @langchain/mcp-adapters 1.1.4: stdio, streamable HTTP, SSE; the
//     TypeScript SDK 1.32.2 underneath speaks up to 2025-11-25, no choice.
//   - Vercel @ai-sdk/mcp 2.0.99: stdio, streamable HTTP, SSE; its own client,
//     2026-07-28 by discovery on stdio and HTTP (protocolVersionDiscovery:
//     false makes it 2025-11-25); SSE has no discovery, so always 2025-11-25.
//   - OpenAI @openai/agents 0.20.0: stdio, streamable HTTP, SSE; the SDK 2.3.1
//     client negotiates 2026-07-28 itself on stdio and HTTP (versionNegotiation
//     auto, not an option), 2025-11-25 on SSE.
//
// None of the three tool objects calls a tool as a task: LangChain and the
// Agents SDK call client.callTool with the SDKs' 60 s default request timeout
// (the Agents SDK refuses a taskSupport "required" tool, pointing at
// experimental.tasks.callToolStream, which it never uses), and the Vercel
// client has no task code and no default timeout. LangChain hands out the
// TypeScript SDK client beneath (client.getClient), whose experimental
// tasks.callToolStream (2025-11-25 tasks) does.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// todoTools are the tools the todo app lists: its mutators and action (not
// the internal setSecret) and the read tools (not over the server-only
// secrets table).
var todoTools = []string{"createAndGenerate", "deleteTodo", "generateWithAI", "get_row", "get_run", "list_rows", "setTodo"}

// agentCall is how one call through a framework's tool object went.
type agentCall struct {
	OK    bool   `json:"ok"`
	Ms    int    `json:"ms"`
	JSON  bool   `json:"json"`
	Text  string `json:"text"`
	Error string `json:"error"`
	// Progress counts the progress reports the framework handed its user
	// during the long mode's direct call (LangChain only; -1 elsewhere).
	Progress int `json:"progress"`
}

// agentsResult is the JSON line agents.mjs prints.
type agentsResult struct {
	Framework      string                     `json:"framework"`
	Transport      string                     `json:"transport"`
	Era            string                     `json:"era"`
	Tools          []string                   `json:"tools"`
	Schemas        map[string]json.RawMessage `json:"schemas"`
	StrictProblems map[string][]string        `json:"strictProblems"`
	StrictTools    []string                   `json:"strictTools"`
	Uncalled       []string                   `json:"uncalled"`
	Args           map[string]json.RawMessage `json:"args"`
	Calls          map[string]agentCall       `json:"calls"`
	BadCall        *agentCall                 `json:"badCall"`
	Direct         *agentCall                 `json:"direct"`
	Route          *struct {
		EnqueueMs int             `json:"enqueueMs"`
		Polls     int             `json:"polls"`
		MaxCallMs int             `json:"maxCallMs"`
		Ms        int             `json:"ms"`
		Status    string          `json:"status"`
		Run       json.RawMessage `json:"run"`
	} `json:"route"`
	// Task is the long mode's generation called as a task (LangChain: the
	// SDK client beneath its tool objects).
	Task *struct {
		OK       bool   `json:"ok"`
		Ms       int    `json:"ms"`
		Status   string `json:"status"`
		Statuses int    `json:"statuses"`
		Text     string `json:"text"`
		Error    string `json:"error"`
	} `json:"task"`
	Ms int `json:"ms"`
}

// runAgents runs agents.mjs with args on Node 22 and decodes its line.
func runAgents(t *testing.T, timeout time.Duration, args ...string) agentsResult {
	t.Helper()
	stdout, stderr, err := runNode(t, timeout, node22(), append([]string{"agents.mjs"}, args...)...)
	if err != nil {
		t.Fatalf("agents.mjs %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	var res agentsResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &res); err != nil {
		t.Fatalf("agents.mjs %s printed no JSON line: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return res
}

// agentsHarness is interopHarness plus the Node 22 binary the AI SDK and
// the Agents SDK need.
func agentsHarness(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts servers and Node clients")
	}
	interopHarness(t)
	if _, err := os.Stat(node22()); err != nil {
		t.Fatalf("Node 22 from the npm package node@22 is missing: %v", err)
	}
}

// TestInteropAgentFrameworks: every framework, on every transport it
// supports and in each protocol era it lets its user pick, lists exactly the
// todo app's tools, converts each for a model and calls each through its own
// tool object. Against `serve --strict-schemas` every converted schema passes
// OpenAI's strict rules, and a rule such a schema only words (list_rows'
// maximum limit) is still enforced, its message reaching the framework's
// caller. Against the plain server LangChain's strict conversion (which
// forwards the schema unchanged) fails those rules, while the Agents SDK's
// convertSchemasToStrict makes every schema strict itself.
func TestInteropAgentFrameworks(t *testing.T) {
	t.Parallel()
	agentsHarness(t)
	bin := interopBinary(t)
	strictURL := startHTTPServer(t, "--strict-schemas")
	plainURL := startHTTPServer(t)

	cases := []struct {
		framework, transport, era string
		strict                    bool
		wantEra                   string
	}{
		{"langchain", "stdio", "", true, "legacy"},
		{"langchain", "http", "", true, "2025-11-25"},
		{"langchain", "sse", "", true, "legacy"},
		{"langchain", "http", "", false, "2025-11-25"},
		{"vercel", "stdio", "modern", true, "2026-07-28"},
		{"vercel", "stdio", "legacy", true, "2025-11-25"},
		{"vercel", "http", "modern", true, "2026-07-28"},
		{"vercel", "http", "legacy", true, "2025-11-25"},
		{"vercel", "sse", "legacy", true, "2025-11-25"},
		{"openai", "stdio", "", true, "2026-07-28"},
		{"openai", "http", "", true, "2026-07-28"},
		{"openai", "sse", "", true, "2025-11-25"},
		{"openai", "http", "", false, "2026-07-28"},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/%s/era=%s/strict=%v", c.framework, c.transport, c.era, c.strict)
		t.Run(name, func(t *testing.T) {
			args := []string{"--framework", c.framework, "--transport", c.transport}
			if c.era != "" {
				args = append(args, "--era", c.era)
			}
			base := plainURL
			if c.strict {
				base = strictURL
			}
			switch c.transport {
			case "stdio":
				args = append(args, "--", bin, "serve", "--data", filepath.Join(t.TempDir(), "app.db"), "--ai-delay", "1ms")
				if c.strict {
					args = append(args, "--strict-schemas")
				}
			case "http":
				args = append(args, "--url", base)
			case "sse":
				args = append(args, "--url", strings.TrimSuffix(base, "/mcp")+"/sse")
			}
			res := runAgents(t, 2*time.Minute, args...)
			checkAgentsRun(t, c.framework, c.strict, res)
			if res.Era != c.wantEra {
				t.Errorf("protocol: %q, want %q", res.Era, c.wantEra)
			}
		})
	}
}

// checkAgentsRun checks one tools run of agents.mjs.
func checkAgentsRun(t *testing.T, framework string, strict bool, res agentsResult) {
	t.Helper()
	if !slices.Equal(res.Tools, todoTools) {
		t.Errorf("tools listed: %v, want %v", res.Tools, todoTools)
	}
	schemas, _ := json.Marshal(res.Schemas)
	if strings.Contains(string(schemas), "secret") {
		t.Errorf("a converted schema names the server-only secrets table or setSecret: %s", schemas)
	}
	if len(res.Uncalled) > 0 {
		t.Errorf("listed tools the driver has no call for: %v", res.Uncalled)
	}
	for _, name := range todoTools {
		call, ok := res.Calls[name]
		switch {
		case !ok:
			t.Errorf("%s was not called", name)
		case !call.OK || !call.JSON:
			t.Errorf("%s %s through %s's tool object: ok=%v json=%v error %q text %q", name, res.Args[name], framework, call.OK, call.JSON, call.Error, call.Text)
		}
	}
	if !strings.Contains(res.Calls["generateWithAI"].Text, `"text":`) {
		t.Errorf("generateWithAI answered no text: %q", res.Calls["generateWithAI"].Text)
	}
	// list_rows {limit: 5000}: refused (the strict schema only words the
	// maximum), with the field-path message handed on to the model.
	switch bad := res.BadCall; {
	case bad == nil:
		t.Errorf("the bad list_rows call was not made")
	case bad.OK && bad.JSON:
		t.Errorf("list_rows {limit: 5000} succeeded through %s: %q", framework, bad.Text)
	case strict && !strings.Contains(bad.Error+bad.Text, "at /limit: maximum"):
		t.Errorf("list_rows {limit: 5000} through %s: the message %q does not name /limit and its maximum", framework, bad.Error+bad.Text)
	}
	problems := len(res.StrictProblems) > 0
	switch {
	case strict && problems:
		t.Errorf("converted schemas break OpenAI's strict rules under --strict-schemas: %v", res.StrictProblems)
	case !strict && framework == "openai" && problems:
		t.Errorf("the Agents SDK's strict conversion left problems: %v", res.StrictProblems)
	case !strict && framework == "langchain" && !problems:
		// The check must be able to fail: LangChain forwards the declared
		// schema with strict: true, whose optional fields are not required.
		t.Errorf("LangChain's strict conversion of the declared schemas passed the strict check; it cannot have (optional fields)")
	}
	if framework != "vercel" && !slices.Equal(res.StrictTools, todoTools) {
		t.Errorf("tools handed to the model with strict: true: %v, want all of %v", res.StrictTools, todoTools)
	}
	if strict && !strings.Contains(string(res.Args["setTodo"]), `"status":null`) {
		t.Errorf("setTodo was called without the null a strict-mode model sends for an absent status: %s", res.Args["setTodo"])
	}
}

// TestInteropAgentFrameworksLongCall: a generation that streams for more
// than 60 s (serve --ai-delay 2s: the canned answer to the default prompt is
// 34 chunks, so at least 68 s however loaded the machine), through each
// framework at once, two ways. Called directly, LangChain and the Agents SDK
// give up at 60 s (-32001 Request timed out) while the Vercel client waits it
// out; through the README's route (createAndGenerate answers at once, then
// get_run is polled) every framework sees it succeed, each call well under
// 60 s. No framework's tool object calls as a task (see the file comment);
// LangChain's SDK client beneath them does, and the same generation
// completes as a task there. The suite's one test longer than a minute:
// parallel, so it overlaps the other parallel tests.
func TestInteropAgentFrameworksLongCall(t *testing.T) {
	t.Parallel()
	agentsHarness(t)
	u := startHTTPServer(t, "--ai-delay", "2s")
	frameworks := []string{"langchain", "vercel", "openai"}
	results := make([]agentsResult, len(frameworks))
	var wg sync.WaitGroup
	for i, f := range frameworks {
		wg.Go(func() {
			t.Run(f, func(t *testing.T) {
				results[i] = runAgents(t, 5*time.Minute, "--framework", f, "--transport", "http", "--mode", "long", "--url", u)
			})
		})
	}
	wg.Wait()
	for i, f := range frameworks {
		res := results[i]
		if res.Direct == nil || res.Route == nil {
			continue // its subtest failed and said why
		}
		t.Logf("%s: direct call ok=%v after %d ms (%s, %d progress reports); createAndGenerate + %d get_run polls: %s after %d ms (slowest call %d ms)",
			f, res.Direct.OK, res.Direct.Ms, res.Direct.Error, res.Direct.Progress, res.Route.Polls, res.Route.Status, res.Route.Ms, res.Route.MaxCallMs)
		if res.Route.Status != "succeeded" || res.Route.Ms < 60_000 || res.Route.MaxCallMs >= 30_000 {
			t.Errorf("%s: the route: status %q after %d ms (want succeeded after more than 60 s), slowest call %d ms (want well under 60 s); run %s",
				f, res.Route.Status, res.Route.Ms, res.Route.MaxCallMs, res.Route.Run)
		}
		if !strings.Contains(string(res.Route.Run), "built-in local model") {
			t.Errorf("%s: the route's run has no generated text: %s", f, res.Route.Run)
		}
		switch f {
		case "vercel":
			if !res.Direct.OK || res.Direct.Ms < 60_000 {
				t.Errorf("vercel: the direct call: ok=%v after %d ms, want it to wait past 60 s and succeed: %s", res.Direct.OK, res.Direct.Ms, res.Direct.Error)
			}
		case "langchain":
			// LangChain hands its user the progress reports, yet gives up.
			if res.Direct.Progress < 1 {
				t.Errorf("langchain: no progress report reached the framework during the direct call")
			}
			// The SDK client beneath its tool objects calls as a task, and
			// the same generation completes that way.
			if tk := res.Task; tk == nil || !tk.OK || tk.Status != "completed" || tk.Ms < 60_000 || !strings.Contains(tk.Text, "built-in local model") {
				t.Errorf("langchain: the generation as a task (2025-11-25 tasks through client.getClient): %+v, want completed after more than 60 s with the text", tk)
			} else {
				t.Logf("langchain: as a task: %s after %d ms, %d tasks/get polls", tk.Status, tk.Ms, tk.Statuses)
			}
			fallthrough
		default:
			if res.Direct.OK || !strings.Contains(strings.ToLower(res.Direct.Error), "timed out") || res.Direct.Ms < 59_000 {
				t.Errorf("%s: the direct call: ok=%v after %d ms (%q), want it to time out at 60 s", f, res.Direct.OK, res.Direct.Ms, res.Direct.Error)
			}
		}
	}
}
