package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	ij "github.com/invopop/jsonschema"
)

// Strict rewrites a generated input schema (an object schema, as
// [Operation.InputSchema] holds) into the form OpenAI's strict function
// calling accepts, which hosts that forward tool schemas with strict: true
// require:
//
//   - every object lists all its properties in required, and has
//     additionalProperties: false;
//   - a property that was optional may be null instead ("type": ["string",
//     "null"], null added to its enum), which [Validator.Prepare] reads as
//     absent;
//   - oneOf becomes anyOf (the generated branches never overlap);
//   - length, range, pattern, format, item-count and default keywords move
//     into the description, in words ("at least 1 character"), since strict
//     mode refuses or ignores them.
//
// The rewritten schema is for publishing only: the server keeps validating
// against the declared one, so every rule still holds. What strict mode
// cannot express is left as it was and listed in problems, one a line
// naming its place ("/meta: a map (an object with free-form keys)"): a
// map, or a field that takes any JSON value.
func Strict(raw json.RawMessage) (strict json.RawMessage, problems []string, err error) {
	var sch ij.Schema
	if err := json.Unmarshal(raw, &sch); err != nil {
		return nil, nil, fmt.Errorf("reading the schema: %w", err)
	}
	st := &strictifier{}
	st.node(&sch, "")
	out, err := json.Marshal(&sch)
	if err != nil {
		return nil, nil, fmt.Errorf("writing the strict schema: %w", err)
	}
	return out, st.problems, nil
}

type strictifier struct {
	problems []string
}

func (st *strictifier) problem(path, what string) {
	if path == "" {
		path = "(root)"
	}
	st.problems = append(st.problems, path+": "+what)
}

// node rewrites n, found at JSON Pointer path of the instance.
func (st *strictifier) node(n *ij.Schema, path string) {
	if isAnySchema(n) {
		st.problem(path, "takes any JSON value, which strict mode cannot express")
		return
	}
	n.Version = ""
	if len(n.OneOf) > 0 {
		n.AnyOf, n.OneOf = append(n.AnyOf, n.OneOf...), nil
	}
	moveConstraints(n)
	for _, sub := range n.AnyOf {
		st.node(sub, path)
	}
	if n.Items != nil {
		st.node(n.Items, path+"/items")
	}
	if len(n.PatternProperties) > 0 || n.AdditionalProperties != nil && !isFalseSchema(n.AdditionalProperties) && n.Properties == nil {
		st.problem(path, "a map (an object with free-form keys), which strict mode cannot express")
		return
	}
	if n.Properties == nil {
		if n.Type == "object" {
			st.problem(path, "an object with no declared properties, which strict mode cannot express")
		}
		return
	}
	declared := map[string]bool{}
	for _, r := range n.Required {
		declared[r] = true
	}
	n.Required = n.Required[:0]
	for p := n.Properties.Oldest(); p != nil; p = p.Next() {
		st.node(p.Value, path+"/"+escapePointer(p.Key))
		if !declared[p.Key] && !st.nullable(p.Value, path+"/"+escapePointer(p.Key)) {
			continue
		}
		n.Required = append(n.Required, p.Key)
	}
	if len(n.Required) == 0 { // "required": [] all the same: ij.Schema omits an empty list
		if n.Extras == nil {
			n.Extras = map[string]any{}
		}
		n.Extras["required"] = []string{}
	}
	n.AdditionalProperties = ij.FalseSchema
}

// nullable lets s (an optional property) be null as well, and reports
// whether it could.
func (st *strictifier) nullable(s *ij.Schema, path string) bool {
	switch {
	case isAnySchema(s) || schemaAllowsNull(s):
		return true
	case s.Type != "":
		if s.Extras == nil {
			s.Extras = map[string]any{}
		}
		s.Extras["type"] = []string{s.Type, "null"}
		s.Type = ""
		if len(s.Enum) > 0 {
			s.Enum = append(s.Enum, nil)
		}
		return true
	case len(s.AnyOf) > 0:
		s.AnyOf = append(s.AnyOf, &ij.Schema{Type: "null"})
		return true
	case len(s.Enum) > 0:
		s.Enum = append(s.Enum, nil)
		return true
	}
	st.problem(path, "an optional property that cannot be made nullable, so it stays out of required")
	return false
}

// schemaAllowsNull reports whether s already accepts null.
func schemaAllowsNull(s *ij.Schema) bool {
	if s.Type == "null" || slices.Contains(s.Enum, nil) {
		return true
	}
	if t, ok := s.Extras["type"].([]string); ok && slices.Contains(t, "null") {
		return true
	}
	return slices.ContainsFunc(s.AnyOf, schemaAllowsNull)
}

// isAnySchema reports whether s is the schema true (or {}): any JSON value.
func isAnySchema(s *ij.Schema) bool {
	b, err := json.Marshal(s)
	return err == nil && string(b) == "true"
}

func isFalseSchema(s *ij.Schema) bool {
	b, err := json.Marshal(s)
	return err == nil && string(b) == "false"
}

// moveConstraints words n's keywords that strict mode refuses or ignores
// into its description, and removes them.
func moveConstraints(n *ij.Schema) {
	var notes []string
	note := func(format string, a ...any) { notes = append(notes, fmt.Sprintf(format, a...)) }
	plural := func(n uint64, one string) string {
		switch {
		case n == 1:
			return fmt.Sprintf("%d %s", n, one)
		case strings.HasSuffix(one, "y"):
			return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(one, "y"))
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	if n.MinLength != nil && *n.MinLength > 0 {
		note("at least %s", plural(*n.MinLength, "character"))
	}
	if n.MaxLength != nil {
		note("at most %s", plural(*n.MaxLength, "character"))
	}
	if n.Pattern != "" {
		note("matching the regular expression %s", n.Pattern)
	}
	if n.Format != "" {
		note("format %s", n.Format)
	}
	for _, c := range []struct {
		v    json.Number
		word string
	}{{n.Minimum, "at least"}, {n.ExclusiveMinimum, "more than"}, {n.Maximum, "at most"}, {n.ExclusiveMaximum, "less than"}, {n.MultipleOf, "a multiple of"}} {
		if c.v != "" {
			note("%s %s", c.word, c.v)
		}
	}
	if n.MinItems != nil && *n.MinItems > 0 {
		note("at least %s", plural(*n.MinItems, "item"))
	}
	if n.MaxItems != nil {
		note("at most %s", plural(*n.MaxItems, "item"))
	}
	if n.UniqueItems {
		note("no duplicates")
	}
	if n.MinProperties != nil && *n.MinProperties > 0 {
		note("at least %s", plural(*n.MinProperties, "entry"))
	}
	if n.MaxProperties != nil {
		note("at most %s", plural(*n.MaxProperties, "entry"))
	}
	if n.Default != nil {
		if b, err := json.Marshal(n.Default); err == nil {
			note("default %s", b)
		}
	}
	n.MinLength, n.MaxLength, n.Pattern, n.Format = nil, nil, "", ""
	n.Minimum, n.ExclusiveMinimum, n.Maximum, n.ExclusiveMaximum, n.MultipleOf = "", "", "", "", ""
	n.MinItems, n.MaxItems, n.UniqueItems, n.MinProperties, n.MaxProperties = nil, nil, false, nil, nil
	n.Default, n.Examples = nil, nil
	if len(notes) > 0 {
		n.Description = withNote(n.Description, strings.Join(notes, "; "))
	}
}
