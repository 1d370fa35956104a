package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ij "github.com/invopop/jsonschema"
)

// describe readies a generated schema for the hosts that pass it on to
// models. It drops $schema: 2020-12 is MCP's default dialect, and some
// model APIs (Gemini's parameters) refuse the keyword. And it names each
// enum's allowed values in the description as well: converters from JSON
// Schema to other schema languages (zod in several agent frameworks) drop
// enum, and a model would never learn the values.
func describe(s *ij.Schema) {
	s.Version = ""
	walk(s, func(n *ij.Schema) {
		if len(n.Enum) > 0 {
			n.Description = withNote(n.Description, "one of: "+listValues(n.Enum))
		}
		if n.Items != nil && len(n.Items.Enum) > 0 {
			n.Description = withNote(n.Description, "each one of: "+listValues(n.Items.Enum))
		}
	})
}

// walk calls f on s and on every schema inside it, parents first.
func walk(s *ij.Schema, f func(*ij.Schema)) {
	if s == nil {
		return
	}
	f(s)
	if s.Properties != nil {
		for p := s.Properties.Oldest(); p != nil; p = p.Next() {
			walk(p.Value, f)
		}
	}
	for _, p := range s.PatternProperties {
		walk(p, f)
	}
	walk(s.AdditionalProperties, f)
	walk(s.Items, f)
	for _, list := range [][]*ij.Schema{s.PrefixItems, s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range list {
			walk(sub, f)
		}
	}
	walk(s.Not, f)
}

// withNote appends note to a description, in parentheses when there is a
// description already.
func withNote(desc, note string) string {
	switch {
	case desc == "":
		return note
	case strings.HasSuffix(desc, "."):
		return strings.TrimSuffix(desc, ".") + " (" + note + ")."
	case strings.HasSuffix(desc, ")"): // not "(...) (...)"
		return desc + "; " + note
	}
	return desc + " (" + note + ")"
}

// listValues writes values as JSON, comma-separated: "a", "b", 3.
func listValues(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		parts[i] = string(b)
	}
	return strings.Join(parts, ", ")
}

// WithEnum returns the object schema raw with values as the enum of its
// property named property, and named in that property's description, as
// every generated enum is. It keeps the order of properties, so the result
// reads like a generated schema. The enum is for publishing: a
// [Validator] made from the type checks what it checked before.
func WithEnum(raw json.RawMessage, property string, values []any) (json.RawMessage, error) {
	var sch ij.Schema
	if err := json.Unmarshal(raw, &sch); err != nil {
		return nil, fmt.Errorf("reading the schema: %w", err)
	}
	if sch.Properties == nil {
		return nil, errors.New("the schema has no properties")
	}
	prop, ok := sch.Properties.Get(property)
	if !ok {
		return nil, fmt.Errorf("the schema has no property %s", property)
	}
	prop.Enum = values
	prop.Description = withNote(prop.Description, "one of: "+listValues(values))
	return json.Marshal(&sch)
}
