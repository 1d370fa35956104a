package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mcp-sync/mcp-sync/schema"
)

// schema is the schema command.
func (a *appCmds) schema(_ context.Context, env *Environ, args []string) int {
	fs := NewFlags(env, a.prog, "schema", "schema [--json]",
		"Prints the app's declared schema: tables (server-only ones marked), mutators and\n"+
			"actions (internal ones marked), each with the JSON Schema generated from its Go type.")
	asJSON := fs.Bool("json", false, "print one JSON document instead of text")
	if code, ok := Parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "%s schema: unexpected argument %q\n", a.prog, fs.Arg(0))
		return ExitUsage
	}
	s := a.app.Schema
	if *asJSON {
		return a.printSchemaJSON(env, s)
	}
	fmt.Fprintf(env.Stdout, "Schema version %d\n", s.Version())
	for _, t := range s.Tables() {
		note := ""
		if t.ServerOnly {
			note = " (server-only: never shown to clients)"
		}
		fmt.Fprintf(env.Stdout, "\ntable %s%s\n  %s\n  row: %s\n", t.Name, note, t.Description, t.RowSchema)
	}
	for _, m := range s.Mutators() {
		fmt.Fprintf(env.Stdout, "\nmutator %s%s\n  %s\n  input: %s\n", m.Name, internalNote(m.Internal), m.Description, m.InputSchema)
	}
	for _, a := range s.Actions() {
		out := "text"
		if !a.TextOutput {
			out = string(a.OutputSchema)
		}
		fmt.Fprintf(env.Stdout, "\naction %s%s\n  %s\n  input: %s\n  output: %s\n", a.Name, internalNote(a.Internal), a.Description, a.InputSchema, out)
	}
	return ExitOK
}

func internalNote(internal bool) string {
	if internal {
		return " (internal: server code only, never a tool)"
	}
	return ""
}

// printSchemaJSON prints s as one JSON document.
func (a *appCmds) printSchemaJSON(env *Environ, s *schema.Schema) int {
	type decl struct {
		Kind         string          `json:"kind"`
		Name         string          `json:"name"`
		Description  string          `json:"description,omitempty"`
		ServerOnly   bool            `json:"serverOnly,omitempty"`
		Internal     bool            `json:"internal,omitempty"`
		Schema       json.RawMessage `json:"schema"`
		OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
		TextOutput   bool            `json:"textOutput,omitempty"`
	}
	var out []decl
	for _, t := range s.Tables() {
		out = append(out, decl{Kind: "table", Name: t.Name, Description: t.Description, ServerOnly: t.ServerOnly, Schema: t.RowSchema})
	}
	for _, m := range s.Mutators() {
		out = append(out, decl{Kind: "mutator", Name: m.Name, Description: m.Description, Internal: m.Internal, Schema: m.InputSchema})
	}
	for _, a := range s.Actions() {
		out = append(out, decl{Kind: "action", Name: a.Name, Description: a.Description, Internal: a.Internal, Schema: a.InputSchema,
			OutputSchema: a.OutputSchema, TextOutput: a.TextOutput})
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"version": s.Version(), "declarations": out}); err != nil {
		fmt.Fprintf(env.Stderr, "%s schema: %v\n", a.prog, err)
		return ExitFail
	}
	return ExitOK
}
