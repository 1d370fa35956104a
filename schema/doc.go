// Package schema declares what an mcp-sync app stores and does: tables,
// mutators and actions, each typed by Go structs.
//
// Declarations are plain values, usually package-level variables:
//
//	var (
//		Todos    = schema.Table[Todo]("todos")
//		SetTodo  = schema.Mutator[Todo]("setTodo", "Create or replace a todo")
//		Generate = schema.Action[GenerateIn, GenerateOut]("generateWithAI", "Generate todo text with AI")
//		App      = schema.MustDefine(1, Todos, SetTodo, Generate)
//	)
//
// Define checks every declaration (names, duplicates, types), generates a
// flat JSON Schema (draft 2020-12, "type": "object" at the root, no $ref) for
// each row, input and output type from its json and jsonschema struct tags,
// and compiles each into a [Validator]. A Schema is immutable once defined and
// safe for concurrent use.
//
// The package imports none of mcp-sync's other packages: storage, the backend
// and the MCP surface all build on it.
package schema
