// Command notes serves the notes example app: see `notes help`.
package main

import (
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/examples/notes"
)

func main() {
	cli.Main(notes.Config(nil), cli.WithName("notes"), cli.WithServerOptions(notes.ServerOptions),
		cli.WithTagline("notes with tags and streaming AI summaries, served over MCP."), cli.WithSetup(notes.Setup))
}
