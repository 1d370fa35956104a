// Command notesapp is a small app of its own served by cli.Main, as a
// user's binary would be: the cli package's tests build and run it.
package main

import (
	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/schema"
)

// Note is a row of the notes table.
type Note struct {
	ID   string   `json:"id" jsonschema:"minLength=1"`
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

var (
	notes    = schema.Table[Note]("notes", schema.Description("The notes"))
	saveNote = schema.Mutator[Note]("saveNote", "Create or replace a note", schema.Idempotent())
	app      = schema.MustDefine(1, notes, saveNote)
)

func main() {
	cli.Main(backend.Config{
		Schema: app,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(saveNote, func(ctx *backend.MutatorCtx, in Note) error {
				return backend.TableOf(ctx, notes).Set(in.ID, in)
			}),
		},
	}, cli.WithName("notes"), cli.WithVersion("0.1.0"), cli.WithTagline("notes kept for an AI model."))
}
