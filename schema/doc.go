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
// flat JSON Schema (draft 2020-12, "type": "object" at the root, no $ref, no
// $schema, each enum's values named in its description too) for each row,
// input and output type from its json and jsonschema struct tags, and
// compiles each into a [Validator]. A Schema is immutable once defined and
// safe for concurrent use. [Strict] rewrites an input schema for OpenAI's
// strict function calling.
//
// # Nil slices and maps, null, and defaults
//
// Go writes a nil slice or map as null, which the generated schema refuses
// (it wants an array or object). [Validator.Encode], which the engine uses
// for every value Go code hands it (rows written with backend's Table.Set,
// inputs of ctx.Mutate, EnqueueAction, backend.Mutate and backend.Enqueue,
// action outputs), writes [] or {} instead; the Go client encodes a call's
// arguments the same way.
// Null stays where the declaration allows it: a field that is omitempty or
// omitzero (left out when nil), tagged `jsonschema:"nullable"`, or a nil
// pointer (left as null, which the schema refuses unless omitempty or
// nullable).
//
// In JSON sent by a client, a null at an optional property (not required,
// not nullable) means the property is absent ([Validator.Prepare], which
// the engine applies to every mutator and action input and package tools
// to every read tool's arguments): hosts that make every property required
// for OpenAI's strict mode send null for each argument a model leaves out.
// A null at a required property is an error naming it.
//
// A field tagged `jsonschema:"default=…"` that is missing from a JSON
// object, or null where null means absent, gets its default
// ([Validator.WithDefaults], [Validator.Prepare]): in a mutator's or
// action's input, before validation and before the handler runs, and in a
// stored row when it is read (typed or raw, by server code or a client), so
// rows written before the field existed read as if written with it; the
// change feed carries rows as stored. Nested structs' defaults apply too. A
// field present with any other value keeps it, so a default on an omitempty field
// means its zero value reads back as the default. [Define] refuses a default
// that the field's type cannot take or its own schema rejects; note that a
// tag writes array defaults as strings, so only []string fields take one.
//
// The package imports none of mcp-sync's other packages: storage, the backend
// and the MCP surface all build on it.
package schema
