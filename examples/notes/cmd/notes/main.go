// Command notes serves the notes example app: see `notes help`. The
// schema and check commands use notes.Config(nil); serve builds the backend
// with its AI provider through notes.Setup.
package main

import (
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/examples/notes"
)

func main() {
	cli.Main(notes.Config(nil), cli.WithName("notes"),
		cli.WithTagline("notes with tags and streaming AI summaries, served over MCP."), cli.WithSetup(notes.Setup))
}
