package tools

import (
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/schema"
)

// outputKind is how an action's output becomes a tool result.
type outputKind int

const (
	outputStructured outputKind = iota // structuredContent, and its JSON as text
	outputText                         // a string, as one text block
	outputContent                      // schema.Content, as its blocks
)

func kindOf(a *schema.ActionInfo) outputKind {
	switch {
	case a.TextOutput:
		return outputText
	case a.ContentOutput:
		return outputContent
	}
	return outputStructured
}

// outputResult is the tool result an action's output (its JSON, as the
// engine returns and run records keep it) stands for.
func outputResult(kind outputKind, out json.RawMessage) (*mcp.CallToolResult, error) {
	switch kind {
	case outputText:
		var text string
		if err := json.Unmarshal(out, &text); err != nil {
			return nil, fmt.Errorf("text output: %w", err)
		}
		return mcp.NewToolResultText(text), nil
	case outputContent:
		var c schema.Content
		if err := json.Unmarshal(out, &c); err != nil {
			return nil, fmt.Errorf("content output: %w", err)
		}
		return contentResult(c)
	}
	return mcp.NewToolResultStructured(out, string(out)), nil
}

// contentResult turns content blocks into MCP content; a block that is not
// well formed fails the whole result rather than reaching a client half
// right.
func contentResult(c schema.Content) (*mcp.CallToolResult, error) {
	res := &mcp.CallToolResult{Content: make([]mcp.Content, 0, len(c.Blocks))}
	for i, b := range c.Blocks {
		if err := b.Check(i); err != nil {
			return nil, err
		}
		switch b.Type {
		case "text":
			res.Content = append(res.Content, mcp.NewTextContent(b.Text))
		case "image":
			res.Content = append(res.Content, mcp.NewImageContent(b.Data, b.MIMEType))
		case "audio":
			res.Content = append(res.Content, mcp.NewAudioContent(b.Data, b.MIMEType))
		case "resource":
			r := b.Resource
			var rc mcp.ResourceContents = mcp.TextResourceContents{URI: r.URI, MIMEType: r.MIMEType, Text: r.Text}
			if r.Blob != "" {
				rc = mcp.BlobResourceContents{URI: r.URI, MIMEType: r.MIMEType, Blob: r.Blob}
			}
			res.Content = append(res.Content, mcp.NewEmbeddedResource(rc))
		}
	}
	return res, nil
}
