//go:build linux || darwin

package main

// Interop with the MCP Inspector CLI (@modelcontextprotocol/inspector, pinned
// in testdata/interop): it speaks both protocol eras on SSE, where mcp-go
// used to apply streamable HTTP's header rules to 2026-07-28 requests and
// refuse every one with -32020.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inspector runs the Inspector CLI against url with args and returns what
// it printed (--format json: one JSON object) and its exit code. HOME is a
// scratch directory: the Inspector writes its catalog and storage there.
func inspector(t *testing.T, home, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args = append([]string{"node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
		"--cli", url, "--format", "json"}, args...)
	cmd := exec.CommandContext(ctx, node22(), args...)
	cmd.Dir = interopDir
	cmd.Env = append(os.Environ(), "HOME="+home, "NO_COLOR=1", "FORCE_COLOR=0", "MCP_CATALOG_PATH=", "MCP_CLIENT_CONFIG_PATH=")
	inGroup(cmd, true)
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything it left behind
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("inspector %s: timed out after 90 s\nstdout:\n%s\nstderr:\n%s", strings.Join(args[2:], " "), out.String(), errOut.String())
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("inspector %s: %v", strings.Join(args[2:], " "), err)
	}
	return out.String(), errOut.String(), code
}

// inspectorResult is what the Inspector prints with --format json.
type inspectorResult struct {
	Result struct {
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"inputSchema"`
		} `json:"tools"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		StructuredContent json.RawMessage `json:"structuredContent"`
		IsError           bool            `json:"isError"`
	} `json:"result"`
	Error *struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestInteropInspectorSSE drives SSE with the Inspector CLI in every
// protocol era it offers: list the tools, write a todo (an optional field
// null, as strict-mode hosts send it), read it back, run an action, and
// send bad arguments, which must come back as a tool error naming the
// field (exit 5), not a protocol error.
func TestInteropInspectorSSE(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and the Inspector")
	}
	interopHarness(t)
	if _, err := os.Stat(node22()); err != nil {
		t.Fatalf("Node 22 from the npm package node@22 is missing: %v", err)
	}
	sse := strings.TrimSuffix(startHTTPServer(t), "/mcp") + "/sse"
	home := t.TempDir()
	for _, era := range []string{"legacy", "auto", "modern"} {
		t.Run(era, func(t *testing.T) {
			call := func(wantCode int, args ...string) inspectorResult {
				t.Helper()
				args = append([]string{"--transport", "sse", "--protocol-era", era}, args...)
				stdout, stderr, code := inspector(t, home, sse, args...)
				var res inspectorResult
				if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &res); err != nil || code != wantCode || res.Error != nil && wantCode == 0 {
					t.Fatalf("inspector %s: exit %d (want %d), output %q, stderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
				}
				return res
			}
			list := call(0, "--method", "tools/list")
			if len(list.Result.Tools) == 0 {
				t.Fatalf("tools/list over SSE (%s) listed no tools", era)
			}
			id := "inspector-" + era
			call(0, "--method", "tools/call", "--tool-name", "setTodo",
				"--tool-args-json", `{"id":"`+id+`","text":"from the Inspector","completed":false,"status":null}`)
			got := call(0, "--method", "tools/call", "--tool-name", "get_row", "--tool-args-json", `{"table":"todos","key":"`+id+`"}`)
			if !strings.Contains(string(got.Result.StructuredContent), "from the Inspector") {
				t.Errorf("get_row over SSE (%s) did not read back the todo: %s", era, got.Result.StructuredContent)
			}
			gen := call(0, "--method", "tools/call", "--tool-name", "generateWithAI", "--tool-args-json", `{"id":"`+id+`","prompt":"milk"}`)
			if len(gen.Result.StructuredContent) == 0 {
				t.Errorf("generateWithAI over SSE (%s) returned no structured output: %+v", era, gen.Result)
			}
			bad := call(5, "--method", "tools/call", "--tool-name", "get_row", "--tool-args-json", `{"table":"todos","key":1}`)
			if !bad.Result.IsError || len(bad.Result.Content) == 0 || !strings.Contains(bad.Result.Content[0].Text, "at /key: got number, want string") {
				t.Errorf("bad arguments over SSE (%s): want a tool error naming /key, got %+v", era, bad.Result)
			}
		})
	}
}

// TestInteropInspectorSchemaPortability: the Inspector's schema portability
// check (tools/list --strict, exit 6 on an error-severity problem) finds no
// error in the tool schemas, as declared or with --strict-schemas.
func TestInteropInspectorSchemaPortability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and the Inspector")
	}
	interopHarness(t)
	if _, err := os.Stat(node22()); err != nil {
		t.Fatalf("Node 22 from the npm package node@22 is missing: %v", err)
	}
	home := t.TempDir()
	for _, args := range [][]string{nil, {"--strict-schemas"}} {
		u := startHTTPServer(t, args...)
		stdout, stderr, code := inspector(t, home, u, "--protocol-era", "modern", "--method", "tools/list", "--strict")
		if code != 0 || !strings.Contains(stderr, "0 errors") {
			t.Errorf("serve %v: the Inspector's portability check: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
	}
}
