package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/tools"
)

// badInput sends one deliberately wrong request and checks that it failed
// the way it should: invalid input or unknown, and nothing else.
func (w *soakWorker) badInput(ctx context.Context) {
	kinds := []struct {
		kind, expected string
		want           error
		call           func() error
	}{
		{"setTodo wrong types", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "setTodo", map[string]any{"id": 5, "text": true})
			return err
		}},
		{"setTodo missing id", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "setTodo", map[string]any{"text": "no id"})
			return err
		}},
		{"deleteTodo empty id", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "deleteTodo", map[string]any{"id": ""})
			return err
		}},
		{"generateWithAI no prompt", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "generateWithAI", map[string]any{"id": w.key("x")})
			return err
		}},
		{"setTodo array arguments", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "setTodo", []int{1, 2})
			return err
		}},
		{"get_row unknown table", "unknown", client.ErrUnknown, func() error {
			_, err := w.cn.Call(ctx, "get_row", map[string]string{"table": "nope", "key": "x"})
			return err
		}},
		{"get_row wrong types", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "get_row", map[string]any{"table": 7, "key": []int{1}})
			return err
		}},
		{"unknown tool", "unknown", client.ErrUnknown, func() error {
			_, err := w.cn.Call(ctx, "noSuchTool", map[string]any{})
			return err
		}},
		{"malformed JSON body", "HTTP 400 or JSON-RPC parse error", nil, func() error { return w.malformed(ctx) }},
	}
	b := kinds[w.rng.IntN(len(kinds))]
	t0 := time.Now()
	err := b.call()
	w.st.ok("bad_input", time.Since(t0))
	switch {
	case b.want == nil: // the malformed body: the call reports its own verdict
		w.st.badInput(b.kind, b.expected, err == nil, fmt.Sprint(err))
	case err == nil:
		w.st.badInput(b.kind, b.expected, false, "the call succeeded")
	case errors.Is(err, client.ErrTransport):
		// The connection failed: not the server rejecting the input.
		w.st.fail("bad_input", 0, fmt.Errorf("%s: %w", b.kind, err))
	default:
		w.st.badInput(b.kind, b.expected, errors.Is(err, b.want), soakErrKind(err))
	}
}

func soakErrKind(err error) string {
	kind := "other"
	for _, k := range []struct {
		name string
		err  error
	}{{"invalid input", client.ErrInvalidInput}, {"unknown", client.ErrUnknown}, {"handler", client.ErrHandler}, {"transport", client.ErrTransport}} {
		if errors.Is(err, k.err) {
			kind = k.name
			break
		}
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return kind + ": " + msg
}

// malformed posts a body that is not JSON to the streamable HTTP endpoint
// (the Go client cannot send one) and returns nil when the server rejects
// it as it should: HTTP 400, or a JSON-RPC parse error.
func (w *soakWorker) malformed(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+tools.PathStreamable,
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"setTodo","arguments":{"id":`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("transport: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode == http.StatusBadRequest || strings.Contains(string(body), "-32700") {
		return nil
	}
	return fmt.Errorf("HTTP %s: %s", resp.Status, body)
}
