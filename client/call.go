package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	mgtransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

// Errors a call can fail with; the error returned wraps one (errors.Is).
var (
	// ErrInvalidInput: the arguments do not match the tool's schema; nothing
	// was written. The message names the field paths.
	ErrInvalidInput = errors.New("invalid input")
	// ErrHandler: the mutator or action ran and returned an error (or
	// panicked, or produced output that breaks its schema), or the server
	// failed otherwise: busy, internal, damaged, and any kind this client
	// does not know. CallError.Kind tells them apart.
	ErrHandler = errors.New("handler failed")
	// ErrUnknown: no such tool, table, row or run.
	ErrUnknown = errors.New("unknown")
	// ErrTransport: the call did not get an answer: the connection failed,
	// the server went away, or the context ended. For a mutation, whether it
	// was applied is unknown (a Replica's pushes are safe to retry).
	ErrTransport = errors.New("transport failed")
)

// CallError is a tool call that the server answered with isError.
type CallError struct {
	Tool    string
	Kind    wire.ErrorKind // as the server says (wire.KindHandler when it says none)
	Message string
}

// Error returns the tool's name and the server's message.
func (e *CallError) Error() string { return e.Tool + ": " + e.Message }

// Unwrap maps the server's kind to this package's sentinels: invalid_input
// to ErrInvalidInput, unknown to ErrUnknown, unavailable and cancelled to
// ErrTransport (the call may be made again), and every other kind to
// ErrHandler.
func (e *CallError) Unwrap() error {
	switch e.Kind {
	case wire.KindInvalidInput:
		return ErrInvalidInput
	case wire.KindUnknown:
		return ErrUnknown
	case wire.KindUnavailable, wire.KindCancelled:
		return ErrTransport
	}
	return ErrHandler
}

// Call calls a tool with args (anything that marshals to a JSON object) and
// returns its structured result as JSON (text results as a JSON string).
func (cn *Conn) Call(ctx context.Context, tool string, args any) (json.RawMessage, error) {
	out, _, err := cn.call(ctx, tool, args, nil)
	return out, err
}

// CallWithProgress is Call that passes the tool's progress reports to f.
func (cn *Conn) CallWithProgress(ctx context.Context, tool string, args any, f ProgressFunc) (json.RawMessage, error) {
	out, _, err := cn.call(ctx, tool, args, f)
	return out, err
}

// ListTools returns the server's tool list.
func (cn *Conn) ListTools(ctx context.Context) (*mcp.ListToolsResult, error) {
	c, _, err := cn.client()
	if err != nil {
		return nil, err
	}
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return nil, fmt.Errorf("%w: listing tools: %v", ErrTransport, err)
	}
	return res, nil
}

// ReadResource returns the text of the resource at uri.
func (cn *Conn) ReadResource(ctx context.Context, uri string) (string, error) {
	c, _, err := cn.client()
	if err != nil {
		return "", err
	}
	res, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
	if err != nil {
		var te *mgtransport.Error
		if errors.As(err, &te) || ctx.Err() != nil {
			return "", fmt.Errorf("%w: reading %s: %v", ErrTransport, uri, err)
		}
		return "", fmt.Errorf("%w: %s: %v", ErrUnknown, uri, err)
	}
	for _, c := range res.Contents {
		if t, ok := c.(mcp.TextResourceContents); ok {
			return t.Text, nil
		}
	}
	return "", fmt.Errorf("resource %s has no text content", uri)
}

// ProgressFunc receives an action's progress reports.
type ProgressFunc func(progress, total float64, message string)

func (cn *Conn) call(ctx context.Context, tool string, args any, onProgress ProgressFunc) (json.RawMessage, int, error) {
	c, gen, err := cn.client()
	if err != nil {
		return nil, gen, err
	}
	// As the server's own Go code encodes: a nil slice or map goes as []
	// or {}, which the tool's schema wants, not as null.
	raw, err := schema.Encode(args)
	if err != nil {
		return nil, gen, fmt.Errorf("%s: encoding the arguments: %w", tool, err)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = json.RawMessage(raw)
	if onProgress != nil {
		token := fmt.Sprintf("p%d", time.Now().UnixNano())
		req.Params.Meta = &mcp.Meta{ProgressToken: token}
		cn.onProgress(token, onProgress)
		defer cn.onProgress(token, nil)
	}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		var te *mgtransport.Error
		switch {
		case errors.As(err, &te) || ctx.Err() != nil:
			return nil, gen, fmt.Errorf("%s: %w: %v", tool, ErrTransport, err)
		case errors.Is(err, mcp.ErrInvalidParams) && strings.Contains(err.Error(), "not found"),
			errors.Is(err, mcp.ErrMethodNotFound):
			return nil, gen, &CallError{Tool: tool, Kind: wire.KindUnknown, Message: err.Error()}
		case errors.Is(err, mcp.ErrInvalidParams):
			return nil, gen, &CallError{Tool: tool, Kind: wire.KindInvalidInput, Message: err.Error()}
		}
		return nil, gen, fmt.Errorf("%s: %w: %v", tool, ErrTransport, err)
	}
	out, err := resultOutput(tool, res)
	return out, gen, err
}

// resultOutput is a tool result's output as Call returns it: the
// structured result as JSON (text results as a JSON string), or a
// *CallError for an isError result.
func resultOutput(tool string, res *mcp.CallToolResult) (json.RawMessage, error) {
	if res.IsError {
		return nil, &CallError{Tool: tool, Kind: errorKind(res), Message: textOf(res)}
	}
	if res.StructuredContent != nil {
		// The text block holds the same JSON as it came (the spec asks
		// servers for it, and ours always send it); StructuredContent went
		// through a generic decoder that turned integers past 2^53 into
		// inexact float64s.
		if text := textOf(res); sameKind(text, res.StructuredContent) {
			return json.RawMessage(text), nil
		}
		return json.Marshal(res.StructuredContent)
	}
	return json.Marshal(textOf(res))
}

// errorKind is the kind a failed call's _meta says (see wire.ErrorMetaKey),
// or wire.KindHandler when it says none.
func errorKind(res *mcp.CallToolResult) wire.ErrorKind {
	if res.Meta == nil {
		return wire.KindHandler
	}
	// A generic JSON decoding (a map), whatever the transport handed over.
	b, err := json.Marshal(res.Meta.AdditionalFields[wire.ErrorMetaKey])
	var m wire.ErrorMeta
	if err != nil || json.Unmarshal(b, &m) != nil || m.Kind == "" {
		return wire.KindHandler
	}
	return m.Kind
}

// sameKind reports whether text is JSON of the same kind (object or array)
// as structured, the generic decoding of a result's structured content.
func sameKind(text string, structured any) bool {
	t := strings.TrimSpace(text)
	if t == "" || !json.Valid([]byte(t)) {
		return false
	}
	switch structured.(type) {
	case map[string]any:
		return t[0] == '{'
	case []any:
		return t[0] == '['
	}
	return false
}

func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

func (cn *Conn) onProgress(token string, f ProgressFunc) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.progress == nil {
		cn.progress = map[string]ProgressFunc{}
	}
	if f == nil {
		delete(cn.progress, token)
		return
	}
	cn.progress[token] = f
}
