package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStdioStdoutIsProtocolOnly feeds the stdio server good and bad input
// and checks that every line it writes to stdout is a JSON-RPC message.
func TestStdioStdoutIsProtocolOnly(t *testing.T) {
	bin := interopBinary(t)
	cmd := exec.Command(bin, stdioArgs(t)...)
	cmd.Env = quietEnv
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"setTodo","arguments":{"id":"a","text":"hi","completed":false}}}`,
		`this is not json`,
		`{"jsonrpc":"2.0","id":3,"method":"no/such/method"}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"noSuchTool","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"generateWithAI","arguments":{"id":"a","prompt":"p"},"_meta":{"progressToken":"t"}}}`,
	}
	go func() {
		for _, l := range in {
			fmt.Fprintln(stdin, l)
		}
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	got := map[float64]bool{}
	timeout := time.After(2 * testWait)
	for !got[5] {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stdout closed early; stderr:\n%s", stderr.String())
			}
			var msg struct {
				JSONRPC string   `json:"jsonrpc"`
				ID      *float64 `json:"id"`
			}
			if err := json.Unmarshal([]byte(l), &msg); err != nil || msg.JSONRPC != "2.0" {
				t.Fatalf("stdout carried a line that is not JSON-RPC: %q", l)
			}
			if msg.ID != nil {
				got[*msg.ID] = true
			}
		case <-timeout:
			t.Fatalf("no answer to every request within %v (got %v); stderr:\n%s", 2*testWait, got, stderr.String())
		}
	}
	stdin.Close()
	done := make(chan error, 1)
	go func() { _, _ = io.Copy(io.Discard, stdout); done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after stdin closed; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(testWait):
		cmd.Process.Kill()
		t.Fatalf("serve did not exit within %v of stdin closing", testWait)
	}
	if !strings.Contains(stderr.String(), "serving MCP on stdio") {
		t.Errorf("the log did not go to stderr: %q", stderr.String())
	}
}
