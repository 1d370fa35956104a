package schema

import (
	"encoding/base64"
	"fmt"
)

// Content is an action output made of MCP content blocks (text, image,
// audio, embedded resource, in any mix) instead of plain text or structured
// JSON. Declare an action with it as the output type
// (schema.Action[In, schema.Content]); its tool then has no outputSchema and
// its result's content is the blocks, in order. Build blocks with
// [TextBlock], [ImageBlock], [AudioBlock] and [ResourceBlock].
type Content struct {
	Blocks []Block `json:"content"`
}

// Block is one content block; its JSON is MCP's content block, so a run
// record shows it as clients receive it.
type Block struct {
	// Type is "text", "image", "audio" or "resource".
	Type string `json:"type" jsonschema:"enum=text,enum=image,enum=audio,enum=resource"`
	// Text is a text block's text.
	Text string `json:"text,omitempty"`
	// Data is an image or audio block's bytes, base64.
	Data string `json:"data,omitempty"`
	// MIMEType is an image or audio block's media type.
	MIMEType string `json:"mimeType,omitempty"`
	// Resource is a resource block's embedded resource.
	Resource *EmbeddedResource `json:"resource,omitempty"`
}

// EmbeddedResource is a resource's contents carried in a [Block]: text or
// blob (base64), never both.
type EmbeddedResource struct {
	URI      string `json:"uri"`
	MIMEType string `json:"mimeType,omitempty"`
	Text     string `json:"text,omitempty"`
	Blob     string `json:"blob,omitempty"`
}

// TextBlock is a text block.
func TextBlock(text string) Block { return Block{Type: "text", Text: text} }

// ImageBlock is an image block of the given bytes and media type
// (e.g. "image/png").
func ImageBlock(data []byte, mimeType string) Block {
	return Block{Type: "image", Data: base64.StdEncoding.EncodeToString(data), MIMEType: mimeType}
}

// AudioBlock is an audio block of the given bytes and media type
// (e.g. "audio/wav").
func AudioBlock(data []byte, mimeType string) Block {
	return Block{Type: "audio", Data: base64.StdEncoding.EncodeToString(data), MIMEType: mimeType}
}

// ResourceBlock embeds a text resource.
func ResourceBlock(uri, mimeType, text string) Block {
	return Block{Type: "resource", Resource: &EmbeddedResource{URI: uri, MIMEType: mimeType, Text: text}}
}

// Check says what is wrong with a block, naming it by index, or nil: a
// type with the fields it needs, base64 that decodes.
func (b Block) Check(i int) error {
	switch b.Type {
	case "text":
		return nil
	case "image", "audio":
		if b.MIMEType == "" {
			return fmt.Errorf("content block %d (%s) has no mimeType", i, b.Type)
		}
		if _, err := base64.StdEncoding.DecodeString(b.Data); err != nil || b.Data == "" {
			return fmt.Errorf("content block %d (%s): data is not non-empty base64", i, b.Type)
		}
		return nil
	case "resource":
		if b.Resource == nil || b.Resource.URI == "" {
			return fmt.Errorf("content block %d (resource) has no resource uri", i)
		}
		if b.Resource.Blob != "" {
			if _, err := base64.StdEncoding.DecodeString(b.Resource.Blob); err != nil {
				return fmt.Errorf("content block %d (resource): blob is not base64", i)
			}
		}
		return nil
	}
	return fmt.Errorf("content block %d has type %q; want text, image, audio or resource", i, b.Type)
}
