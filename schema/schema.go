package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Schema is a validated, compiled set of declarations. It is immutable and
// safe for concurrent use. Create one with [Define].
type Schema struct {
	version  int
	tables   []*TableInfo
	mutators []*MutatorInfo
	actions  []*ActionInfo
	byName   map[string]any // *TableInfo, *MutatorInfo or *ActionInfo
}

// TableInfo describes a declared table.
type TableInfo struct {
	Name        string
	Description string
	// ServerOnly tables are never shown to clients.
	ServerOnly bool
	// Private tables keep each row under its owner (see [Private]).
	Private bool
	// RowType is the Go type of a row.
	RowType reflect.Type
	// RowSchema is the row's flat JSON Schema.
	RowSchema json.RawMessage
	// Rows validates a row's JSON.
	Rows *Validator
	// MaxRowBytes is the table's own limit on a row's JSON size, set with
	// [MaxRowBytes]; 0 means the engine's default.
	MaxRowBytes int
}

// Operation is what mutators and actions declare alike: each is a tool
// with a name, hints and a validated input, callable by whoever holds its
// scopes. [MutatorInfo] and [ActionInfo] embed it.
type Operation struct {
	Name        string
	Description string
	Idempotent  bool
	Destructive bool
	// InputType is the Go type of the input.
	InputType reflect.Type
	// InputSchema is the input's flat JSON Schema.
	InputSchema json.RawMessage
	// Input validates an input's JSON.
	Input *Validator
	// Internal ones are callable by server code only (see [Internal]).
	Internal bool
	// Scopes are the scopes a caller needs to call it (see [Scopes]).
	Scopes []string
}

// MutatorInfo describes a declared mutator.
type MutatorInfo struct {
	Operation
}

// ActionInfo describes a declared action.
type ActionInfo struct {
	Operation
	// OutputType is the Go type of the output.
	OutputType reflect.Type
	// TextOutput is true when the output is a string: plain text, with no
	// output schema.
	TextOutput bool
	// ContentOutput is true when the output is [Content]: content blocks,
	// with no output schema shown to clients (the engine still validates it).
	ContentOutput bool
	// OutputSchema is the output's flat JSON Schema; nil when TextOutput.
	OutputSchema json.RawMessage
	// Output validates an output's JSON; nil when TextOutput.
	Output *Validator
	// Sensitive actions' inputs and outputs are never shown to clients in
	// run records (see [Sensitive]).
	Sensitive bool
}

// namePattern is what MCP accepts as a tool name; tables follow it too, so
// every name can appear in a tool name or URI without escaping.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Define validates the declarations and compiles them into a Schema with the
// given version (an integer >= 1, stored in data files; raise it when rows
// change shape). Every problem is reported, each naming the declaration at
// fault: invalid or duplicate names (tables, mutators and actions share one
// namespace), types that are not JSON-object structs, and options that do not
// apply to a declaration's kind.
func Define(version int, decls ...Decl) (*Schema, error) {
	var errs []error
	if version < 1 {
		errs = append(errs, fmt.Errorf("schema version is %d: it must be 1 or more", version))
	}
	s := &Schema{version: version, byName: make(map[string]any)}
	seen := make(map[string]string) // name -> "table todos" for duplicate messages
	for i, d := range decls {
		if d == nil || d.spec() == nil {
			errs = append(errs, fmt.Errorf("declaration #%d is nil or was not made with schema.Table, schema.Mutator or schema.Action", i+1))
			continue
		}
		sp := d.spec()
		what := fmt.Sprintf("%s %q", sp.kind, sp.name)
		if !namePattern.MatchString(sp.name) {
			errs = append(errs, fmt.Errorf("%s: invalid name: use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-' (MCP tool names allow no others)", what))
			continue
		}
		if prev, dup := seen[sp.name]; dup {
			errs = append(errs, fmt.Errorf("%s: the name is already declared by %s: tables, mutators and actions share one namespace", what, prev))
			continue
		}
		seen[sp.name] = what
		if err := checkOptions(sp); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			continue
		}
		info, err := compile(sp)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			continue
		}
		s.byName[sp.name] = info
		switch info := info.(type) {
		case *TableInfo:
			s.tables = append(s.tables, info)
		case *MutatorInfo:
			s.mutators = append(s.mutators, info)
		case *ActionInfo:
			s.actions = append(s.actions, info)
		}
	}
	if len(errs) > 0 {
		return nil, &DefineError{Errs: errs}
	}
	return s, nil
}

// MustDefine is like [Define] but panics on error. It is meant for
// package-level variables, where a bad declaration is a programming error
// that should stop the program at start-up.
func MustDefine(version int, decls ...Decl) *Schema {
	s, err := Define(version, decls...)
	if err != nil {
		panic(err)
	}
	return s
}

// DefineError lists every problem [Define] found.
type DefineError struct {
	Errs []error
}

// Error lists the problems, one a line.
func (e *DefineError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	if len(msgs) == 1 {
		return "schema: " + msgs[0]
	}
	return fmt.Sprintf("schema: %d problems:\n  %s", len(msgs), strings.Join(msgs, "\n  "))
}

// Unwrap returns the individual problems.
func (e *DefineError) Unwrap() []error { return e.Errs }

func checkOptions(sp *declSpec) error {
	var bad []string
	if sp.kind != KindTable {
		if sp.opts.serverOnly {
			bad = append(bad, "ServerOnly applies to tables only: to keep a mutator or action off every client surface (no MCP tool, no push), use schema.Internal()")
		}
		if sp.opts.private {
			bad = append(bad, "Private applies to tables only")
		}
		if sp.opts.description != "" {
			bad = append(bad, "the Description option is for tables: pass the description as the second argument")
		}
		if sp.opts.maxRowSet {
			bad = append(bad, "MaxRowBytes applies to tables only (an input's size is limited by backend.Options.MaxInputBytes)")
		}
	} else {
		if sp.opts.maxRowSet && sp.opts.maxRowBytes < 1 {
			bad = append(bad, fmt.Sprintf("MaxRowBytes(%d): the limit must be at least 1 byte", sp.opts.maxRowBytes))
		}
		if sp.opts.private && sp.opts.serverOnly {
			bad = append(bad, "Private and ServerOnly exclude each other: a ServerOnly table is never shown to any client, a Private one shows each user its own rows; choose one")
		}
		if sp.opts.idempotent {
			bad = append(bad, "Idempotent applies to mutators and actions, not tables")
		}
		if sp.opts.destructive {
			bad = append(bad, "Destructive applies to mutators and actions, not tables")
		}
		if sp.opts.internal {
			bad = append(bad, "Internal applies to mutators and actions: to hide a table from clients, use schema.ServerOnly()")
		}
		if len(sp.opts.scopes) > 0 {
			bad = append(bad, "Scopes applies to mutators and actions, not tables")
		}
	}
	for _, s := range sp.opts.scopes {
		if s == "" || strings.ContainsAny(s, " \t\n\"\\") {
			bad = append(bad, fmt.Sprintf("Scopes(%q): a scope is a non-empty word without spaces, quotes or backslashes", s))
		}
	}
	if sp.opts.sensitive && sp.kind != KindAction {
		bad = append(bad, "Sensitive applies to actions only (keep secret rows in a ServerOnly table)")
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func compile(sp *declSpec) (any, error) {
	role, subject := "input type", fmt.Sprintf("input of %s %s", sp.kind, sp.name)
	if sp.kind == KindTable {
		role, subject = "row type", "row of table "+sp.name
	}
	inSchema, inV, err := compileType(sp.in, subject)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	if sp.kind == KindTable {
		return &TableInfo{Name: sp.name, Description: sp.description, ServerOnly: sp.opts.serverOnly,
			Private: sp.opts.private, RowType: sp.in, RowSchema: inSchema, Rows: inV, MaxRowBytes: sp.opts.maxRowBytes}, nil
	}
	op := Operation{Name: sp.name, Description: sp.description, Idempotent: sp.opts.idempotent,
		Destructive: sp.opts.destructive, InputType: sp.in, InputSchema: inSchema, Input: inV,
		Internal: sp.opts.internal, Scopes: slices.Clone(sp.opts.scopes)}
	if sp.kind == KindMutator {
		return &MutatorInfo{Operation: op}, nil
	}
	a := &ActionInfo{Operation: op, OutputType: sp.out, Sensitive: sp.opts.sensitive}
	if sp.out.Kind() == reflect.String {
		a.TextOutput = true
		return a, nil
	}
	a.OutputSchema, a.Output, err = compileType(sp.out, "output of action "+sp.name)
	if err != nil {
		return nil, fmt.Errorf("output type: %w (or use string, for plain text output)", err)
	}
	a.ContentOutput = sp.out == reflect.TypeFor[Content]()
	return a, nil
}

// Version returns the schema version given to Define.
func (s *Schema) Version() int { return s.version }

// Tables returns the declared tables in declaration order, server-only ones
// included. The slice is shared: do not modify it.
func (s *Schema) Tables() []*TableInfo { return s.tables }

// Mutators returns the declared mutators in declaration order, internal
// ones included. The slice is shared: do not modify it.
func (s *Schema) Mutators() []*MutatorInfo { return s.mutators }

// Actions returns the declared actions in declaration order, internal ones
// included. The slice is shared: do not modify it.
func (s *Schema) Actions() []*ActionInfo { return s.actions }

// Table returns the table named name, if declared.
func (s *Schema) Table(name string) (*TableInfo, bool) {
	t, ok := s.byName[name].(*TableInfo)
	return t, ok
}

// Mutator returns the mutator named name, if declared.
func (s *Schema) Mutator(name string) (*MutatorInfo, bool) {
	m, ok := s.byName[name].(*MutatorInfo)
	return m, ok
}

// Action returns the action named name, if declared.
func (s *Schema) Action(name string) (*ActionInfo, bool) {
	a, ok := s.byName[name].(*ActionInfo)
	return a, ok
}
