package schema

import (
	"fmt"
	"reflect"
)

// Kind tells which sort of declaration a [Decl] is.
type Kind int

// The kinds of declaration.
const (
	KindTable Kind = iota + 1
	KindMutator
	KindAction
)

// String returns "table", "mutator" or "action".
func (k Kind) String() string {
	switch k {
	case KindTable:
		return "table"
	case KindMutator:
		return "mutator"
	case KindAction:
		return "action"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Decl is one declaration handed to [Define]: a [TableDef], [MutatorDef] or
// [ActionDef]. Only this package implements it.
type Decl interface {
	// Name is the declared name: the table name or the MCP tool name.
	Name() string
	// Kind tells table, mutator or action.
	Kind() Kind
	spec() *declSpec
}

// declSpec is what every declaration records; Define turns it into the
// compiled TableInfo, MutatorInfo or ActionInfo.
type declSpec struct {
	kind        Kind
	name        string
	description string
	in          reflect.Type // row type of a table, input of a mutator or action
	out         reflect.Type // output of an action
	opts        options
}

// Option adjusts a declaration. Options that do not apply to a kind (for
// example ServerOnly on a mutator) make Define fail with an error naming the
// declaration.
type Option func(*options)

type options struct {
	serverOnly  bool
	private     bool
	idempotent  bool
	destructive bool
	description string
	maxRowBytes int // 0: the engine's default
	maxRowSet   bool
	sensitive   bool
	internal    bool
	scopes      []string
}

// ServerOnly marks a table as visible to server code only: no client-facing
// surface (MCP tools, resources, the Go client) ever lists, reads or names it.
// Use it for secrets such as API keys. Tables only.
func ServerOnly() Option { return func(o *options) { o.serverOnly = true } }

// Private marks a table whose rows belong to the user who writes them: the
// owner is the caller's identity (backend.Identity.Subject). Each user has
// keys of their own (users A and B may each have a row "a"; they are
// different rows), and every client surface shows a caller only its own
// rows: another user's row looks exactly like a missing one. Server code
// without a caller names the owner explicitly (backend.WithOwner). Tables
// only; not with [ServerOnly].
func Private() Option { return func(o *options) { o.private = true } }

// Internal marks a mutator or action as callable by server code only: from
// other mutators and actions (backend.Mutate, backend.Enqueue, backend.Act)
// and from Go code holding the engine. It is never an MCP tool, a client
// cannot push it, and no client-facing surface lists or names it: a client
// asking for it is told no such mutator or action exists. Use it for helpers
// such as writing a server-only table. Mutators and actions only.
func Internal() Option { return func(o *options) { o.internal = true } }

// Idempotent marks a mutator or action as safe to repeat with the same input
// (MCP's idempotentHint).
func Idempotent() Option { return func(o *options) { o.idempotent = true } }

// Destructive marks a mutator or action as deleting or overwriting data a
// person may want to keep (MCP's destructiveHint). Mutators and actions are
// not destructive unless marked.
func Destructive() Option { return func(o *options) { o.destructive = true } }

// Description sets a table's description, shown to clients listing tables.
// Mutators and actions take theirs as an argument.
func Description(text string) Option { return func(o *options) { o.description = text } }

// MaxRowBytes sets the largest row value (its JSON, in bytes) the table
// accepts, overriding the engine's default (backend.Options.MaxRowBytes, 1
// MiB). A larger write fails with an error naming the table and the limit,
// and writes nothing. n must be at least 1. Tables only.
func MaxRowBytes(n int) Option {
	return func(o *options) { o.maxRowBytes, o.maxRowSet = n, true }
}

// Sensitive marks an action whose input or output may hold secrets: run
// records shown to clients (get_run, the run resource) leave both out. The
// server still stores the input, since the worker needs it. Actions only.
func Sensitive() Option { return func(o *options) { o.sensitive = true } }

// Scopes makes calling a mutator or action require each of scopes (OAuth
// scopes such as "todos:write"): a caller whose access token lacks one is
// refused before the handler runs, with an error naming the scope, and is
// not shown the tool. Callers the server trusts (stdio, the static token,
// Go code holding the engine) have every scope; calls from inside an
// action are the server's own and are not checked. A scope is a non-empty
// word without spaces, quotes or backslashes. Mutators and actions only.
func Scopes(scopes ...string) Option {
	return func(o *options) { o.scopes = append(o.scopes, scopes...) }
}

// nameOrEmpty keeps Name safe on a zero-value declaration, which Define
// reports as an error instead.
func (s *declSpec) nameOrEmpty() string {
	if s == nil {
		return ""
	}
	return s.name
}

func newSpec(kind Kind, name, description string, in, out reflect.Type, opts []Option) *declSpec {
	s := &declSpec{kind: kind, name: name, description: description, in: in, out: out}
	for _, opt := range opts {
		if opt != nil {
			opt(&s.opts)
		}
	}
	if kind == KindTable {
		s.description = s.opts.description
	}
	return s
}

// TableDef declares a table whose rows are values of T, stored as JSON under
// string keys. Create one with [Table].
type TableDef[T any] struct{ s *declSpec }

// Table declares a table named name whose rows are T, a struct type.
// Options: [ServerOnly], [Private], [Description], [MaxRowBytes].
func Table[T any](name string, opts ...Option) TableDef[T] {
	return TableDef[T]{newSpec(KindTable, name, "", reflect.TypeFor[T](), nil, opts)}
}

// Name returns the table's name.
func (d TableDef[T]) Name() string { return d.s.nameOrEmpty() }

// Kind returns KindTable.
func (d TableDef[T]) Kind() Kind { return KindTable }

func (d TableDef[T]) spec() *declSpec { return d.s }

// MutatorDef declares a mutator taking In: a deterministic change that runs in
// one transaction. Create one with [Mutator].
type MutatorDef[In any] struct{ s *declSpec }

// Mutator declares a mutator named name (its MCP tool name) taking input In,
// a struct type. Options: [Idempotent], [Destructive], [Internal], [Scopes].
func Mutator[In any](name, description string, opts ...Option) MutatorDef[In] {
	return MutatorDef[In]{newSpec(KindMutator, name, description, reflect.TypeFor[In](), nil, opts)}
}

// Name returns the mutator's name.
func (d MutatorDef[In]) Name() string { return d.s.nameOrEmpty() }

// Kind returns KindMutator.
func (d MutatorDef[In]) Kind() Kind { return KindMutator }

func (d MutatorDef[In]) spec() *declSpec { return d.s }

// ActionDef declares an action taking In and returning Out: work done on
// the server, such as AI calls or external APIs. Create one with [Action].
type ActionDef[In, Out any] struct{ s *declSpec }

// Action declares an action named name (its MCP tool name) taking In, a
// struct type, and returning Out: a struct type (structured output with an
// output schema) or string (plain text output, no output schema).
// Options: [Idempotent], [Destructive], [Sensitive], [Internal], [Scopes].
func Action[In, Out any](name, description string, opts ...Option) ActionDef[In, Out] {
	return ActionDef[In, Out]{newSpec(KindAction, name, description, reflect.TypeFor[In](), reflect.TypeFor[Out](), opts)}
}

// Name returns the action's name.
func (d ActionDef[In, Out]) Name() string { return d.s.nameOrEmpty() }

// Kind returns KindAction.
func (d ActionDef[In, Out]) Kind() Kind { return KindAction }

func (d ActionDef[In, Out]) spec() *declSpec { return d.s }
