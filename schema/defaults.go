package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"reflect"
	"strings"

	sj "github.com/santhosh-tekuri/jsonschema/v6"
)

// A defaultsPlan lists, for one JSON object type, the fields declared with
// `jsonschema:"default=…"` and the nested objects that hold some. It is
// built once, at Define, from the Go type and its generated schema, so what
// is filled in is exactly what the schema shows; a type without defaults
// has a nil plan and costs nothing.
type defaultsPlan struct {
	fields []fieldDefault
}

// fieldDefault is one property of an object that has a default or holds
// objects that have some.
type fieldDefault struct {
	name  string
	value any           // the default, decoded; nil when the field has none
	obj   *defaultsPlan // a nested struct's own defaults
	each  *defaultsPlan // the defaults of each array element or map value
	// create makes a missing nested object ({} with its defaults) when the
	// parent requires the property: Go would always write it.
	create bool
}

// newDefaultsPlan walks struct type t beside its schema node (a decoded
// JSON Schema object) and returns its plan, nil when nothing in t declares a
// default. A default that the field's type cannot take, or that its own
// schema rejects, is an error naming the field: Define reports it.
func newDefaultsPlan(t reflect.Type, node map[string]any, path string, c *subschemas) (*defaultsPlan, error) {
	props, _ := node["properties"].(map[string]any)
	p := &defaultsPlan{}
	if err := p.addFields(t, props, requiredOf(node), path, c); err != nil {
		return nil, err
	}
	if len(p.fields) == 0 {
		return nil, nil
	}
	return p, nil
}

// addFields adds t's fields, and those promoted from its embedded structs,
// to p.
func (p *defaultsPlan) addFields(t reflect.Type, props map[string]any, required map[string]bool, path string, c *subschemas) error {
	for name, f := range jsonFields(t) {
		prop, _ := props[name].(map[string]any)
		fd, err := newFieldDefault(f, name, prop, path+"/properties/"+escapePointer(name), c)
		if err != nil {
			return fmt.Errorf("field %s: %w", name, err)
		}
		if fd != nil {
			fd.create = fd.obj != nil && required[name] && f.Type.Kind() == reflect.Struct
			p.fields = append(p.fields, *fd)
		}
	}
	return nil
}

// newFieldDefault returns what field f (property name, schema prop at
// pointer path) contributes, nil for nothing.
func newFieldDefault(f reflect.StructField, name string, prop map[string]any, path string, c *subschemas) (*fieldDefault, error) {
	tagged := strings.Contains(","+f.Tag.Get("jsonschema"), ",default=")
	raw, has := prop["default"]
	if tagged && !has {
		return nil, fmt.Errorf("its default (tag %q) is not a valid %s", f.Tag.Get("jsonschema"), f.Type)
	}
	fd := &fieldDefault{name: name}
	if has {
		if err := checkDefault(f.Type, raw, path, c); err != nil {
			return nil, err
		}
		fd.value = raw
	}
	if encodesItself(f.Type) {
		return orNil(fd), nil
	}
	// A nullable field's schema is {"oneOf": [S, {"type": "null"}]}: what
	// it holds is described in S.
	prop, path = objectBranch(prop, path)
	var err error
	switch ft := derefType(f.Type); ft.Kind() {
	case reflect.Struct:
		fd.obj, err = newDefaultsPlan(ft, prop, path, c)
	case reflect.Slice, reflect.Array:
		if et := derefType(ft.Elem()); et.Kind() == reflect.Struct && !encodesItself(et) {
			items, _ := prop["items"].(map[string]any)
			fd.each, err = newDefaultsPlan(et, items, path+"/items", c)
		}
	case reflect.Map:
		if et := derefType(ft.Elem()); et.Kind() == reflect.Struct && !encodesItself(et) {
			vals, vpath := mapValues(prop, path)
			fd.each, err = newDefaultsPlan(et, vals, vpath, c)
		}
	}
	if err != nil {
		return nil, err
	}
	return orNil(fd), nil
}

func orNil(fd *fieldDefault) *fieldDefault {
	if fd.value == nil && fd.obj == nil && fd.each == nil {
		return nil
	}
	return fd
}

// mapValues returns the schema of a map's values and its pointer:
// additionalProperties for string keys, the one patternProperties entry for
// integer keys.
func mapValues(prop map[string]any, path string) (map[string]any, string) {
	if vals, ok := prop["additionalProperties"].(map[string]any); ok {
		return vals, path + "/additionalProperties"
	}
	pats, _ := prop["patternProperties"].(map[string]any)
	for pat, v := range pats {
		vals, _ := v.(map[string]any)
		return vals, path + "/patternProperties/" + escapePointer(pat)
	}
	return nil, path
}

// checkDefault refuses a default that field type t cannot decode, or that
// the field's own schema (at pointer path) rejects: either would fail every
// call or read that needs it.
func checkDefault(t reflect.Type, value any, path string, c *subschemas) error {
	data, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("its default cannot be encoded: %w", err)
	}
	if err := json.Unmarshal(data, reflect.New(t).Interface()); err != nil {
		return fmt.Errorf("its default %s does not fit its type %s (a tag gives array defaults as strings, so only []string takes one)", data, t)
	}
	s, err := c.compile(path)
	if err != nil {
		return fmt.Errorf("compiling its schema to check the default: %w", err)
	}
	if err := s.Validate(value); err != nil {
		msg := err.Error()
		if ve, ok := err.(*sj.ValidationError); ok {
			var msgs []string
			for _, f := range newValidationError("", ve).Fields {
				msgs = append(msgs, f.Message)
			}
			msg = strings.Join(msgs, "; ")
		}
		return fmt.Errorf("its default %s does not match its own schema: %s", data, msg)
	}
	return nil
}

// subschemas compiles parts of one generated schema, by JSON Pointer.
type subschemas struct {
	c *sj.Compiler
}

const schemaURL = "mem:///schema.json"

func newSubschemas(doc any) (*subschemas, error) {
	c := sj.NewCompiler()
	c.DefaultDraft(sj.Draft2020) // the schemas carry no $schema (see describe)
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return &subschemas{c: c}, nil
}

func (s *subschemas) compile(pointer string) (*sj.Schema, error) {
	return s.c.Compile(schemaURL + "#" + pointer)
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// apply fills the plan's missing fields into obj and reports whether it
// changed anything. Defaults are shared between documents, never modified:
// a document with a default in it is only encoded, never filled again.
func (p *defaultsPlan) apply(obj map[string]any) bool {
	changed := false
	for i := range p.fields {
		f := &p.fields[i]
		v, ok := obj[f.name]
		if !ok {
			switch {
			case f.value != nil:
				obj[f.name] = f.value
				changed = true
			case f.create:
				nested := map[string]any{}
				f.obj.apply(nested)
				obj[f.name] = nested
				changed = true
			}
			continue
		}
		if f.obj != nil {
			if m, ok := v.(map[string]any); ok && f.obj.apply(m) {
				changed = true
			}
		}
		if f.each != nil && eachObject(v, f.each.apply) {
			changed = true
		}
	}
	return changed
}

// jsonFields yields the fields of struct type t that JSON encodes, by
// their JSON names, with those of embedded structs promoted.
func jsonFields(t reflect.Type) iter.Seq2[string, reflect.StructField] {
	return func(yield func(string, reflect.StructField) bool) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() && !f.Anonymous {
				continue
			}
			if ft := derefType(f.Type); f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				for n, ef := range jsonFields(ft) {
					if !yield(n, ef) {
						return
					}
				}
				continue
			}
			if name == "" {
				name = f.Name
			}
			if !yield(name, f) {
				return
			}
		}
	}
}

// eachObject calls apply on every object in an array, or on every value of
// an object that is an object, and reports whether any call changed
// something.
func eachObject(v any, apply func(map[string]any) bool) bool {
	changed := false
	var elems []any
	switch v := v.(type) {
	case []any:
		elems = v
	case map[string]any:
		for _, e := range v {
			elems = append(elems, e)
		}
	}
	for _, e := range elems {
		if m, ok := e.(map[string]any); ok && apply(m) {
			changed = true
		}
	}
	return changed
}

// requiredOf is the set of a schema node's required properties.
func requiredOf(node map[string]any) map[string]bool {
	required := map[string]bool{}
	if req, ok := node["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok {
				required[s] = true
			}
		}
	}
	return required
}

// applyJSON fills p's defaults into the JSON object data. It returns data
// itself when nothing was missing, or when data is not a JSON object (the
// validator says what is wrong with it).
func (p *defaultsPlan) applyJSON(data []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers pass through exactly
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return data
	}
	if !p.apply(obj) {
		return data
	}
	out, err := json.Marshal(obj)
	if err != nil { // cannot happen: decoded JSON re-encodes
		return data
	}
	return out
}
