package conformance

import (
	"encoding/base64"
	"encoding/binary"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// The fixtures of the content scenarios (tools-call-image, -audio,
// -embedded-resource, -mixed-content): actions whose output is content blocks.
var (
	// ImageTool answers with a 1×1 PNG.
	ImageTool = schema.Action[NoInput, schema.Content]("test_image_content",
		"Returns an image (conformance: tools-call-image)", schema.Idempotent())
	// AudioTool answers with a short WAV.
	AudioTool = schema.Action[NoInput, schema.Content]("test_audio_content",
		"Returns audio (conformance: tools-call-audio)", schema.Idempotent())
	// EmbeddedTool answers with an embedded text resource.
	EmbeddedTool = schema.Action[NoInput, schema.Content]("test_embedded_resource",
		"Returns an embedded resource (conformance: tools-call-embedded-resource)", schema.Idempotent())
	// MixedTool answers with text, an image and a resource.
	MixedTool = schema.Action[NoInput, schema.Content]("test_multiple_content_types",
		"Returns text, an image and a resource (conformance: tools-call-mixed-content)", schema.Idempotent())
)

func contentActions() []backend.ActionImpl {
	png, _ := base64.StdEncoding.DecodeString(pngPixel) // a constant that decodes
	resource := schema.ResourceBlock("test://embedded-resource", "text/plain", "This is an embedded resource content.")
	return []backend.ActionImpl{
		backend.Action(ImageTool, func(*backend.ActionCtx, NoInput) (schema.Content, error) {
			return schema.Content{Blocks: []schema.Block{schema.ImageBlock(png, "image/png")}}, nil
		}),
		backend.Action(AudioTool, func(*backend.ActionCtx, NoInput) (schema.Content, error) {
			return schema.Content{Blocks: []schema.Block{schema.AudioBlock(silentWAV(), "audio/wav")}}, nil
		}),
		backend.Action(EmbeddedTool, func(*backend.ActionCtx, NoInput) (schema.Content, error) {
			return schema.Content{Blocks: []schema.Block{resource}}, nil
		}),
		backend.Action(MixedTool, func(*backend.ActionCtx, NoInput) (schema.Content, error) {
			return schema.Content{Blocks: []schema.Block{
				schema.TextBlock("Multiple content types test:"), schema.ImageBlock(png, "image/png"), resource}}, nil
		}),
	}
}

// silentWAV is 8 samples of silence: 8 kHz, 8-bit mono PCM.
func silentWAV() []byte {
	const samples = 8
	b := make([]byte, 0, 44+samples)
	le := binary.LittleEndian
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, 36+samples)
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, 1) // PCM
	b = le.AppendUint16(b, 1) // mono
	b = le.AppendUint32(b, 8000)
	b = le.AppendUint32(b, 8000)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 8)
	b = append(b, "data"...)
	b = le.AppendUint32(b, samples)
	for range samples {
		b = append(b, 128)
	}
	return b
}
