package schema

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	ij "github.com/invopop/jsonschema"
	sj "github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// ForType is how every JSON Schema of mcp-sync is made, for types that are
// not declarations (package tools generates its read and sync tools' schemas
// with it): it checks that t is a struct JSON can carry, generates its flat
// JSON Schema and compiles the validator; subject names the value in
// validation errors.
func ForType(t reflect.Type, subject string) (json.RawMessage, *Validator, error) {
	return compileType(t, subject)
}

// compileType checks that t is a struct JSON can carry, generates its flat
// JSON Schema and compiles the validator. subject names the value in
// validation errors ("input of mutator setTodo").
func compileType(t reflect.Type, subject string) (json.RawMessage, *Validator, error) {
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		return nil, nil, fmt.Errorf("%s is a pointer: declare the struct type %s itself", t, t.Elem())
	}
	if t.Kind() != reflect.Struct {
		return nil, nil, fmt.Errorf("%s is not a struct: MCP needs a JSON object, so declare a struct with json tags", t)
	}
	// invopop recurses forever (a fatal stack overflow, not a panic) on a
	// self-referencing type when asked not to use $ref, so refuse those first.
	if err := checkJSONType(t, t.Name(), map[reflect.Type]bool{}); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", t, err)
	}
	r := ij.Reflector{DoNotReference: true, ExpandedStruct: true, Anonymous: true}
	sch := r.ReflectFromType(t)
	describe(sch)
	raw, err := json.Marshal(sch)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: generating its JSON Schema: %w", t, err)
	}
	v, err := newValidator(t, raw, subject)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", t, err)
	}
	return raw, v, nil
}

// checkJSONType walks the fields a JSON encoding of t would contain and
// refuses what JSON cannot carry and types that contain themselves. path
// names the field for the error message; onPath holds the struct types on the
// way down, so a type used twice side by side is fine but a cycle is not.
func checkJSONType(t reflect.Type, path string, onPath map[reflect.Type]bool) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) ||
		t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return nil // encodes itself (time.Time, json.RawMessage, ...)
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("field %s has type %s, which JSON cannot encode: remove it or tag it `json:\"-\"`", path, t)
	case reflect.Slice, reflect.Array:
		return checkJSONType(t.Elem(), path+"[]", onPath)
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			return fmt.Errorf("field %s is a map keyed by %s: JSON object keys must be strings or integers", path, t.Key())
		}
		return checkJSONType(t.Elem(), path+"[key]", onPath)
	case reflect.Struct:
		if onPath[t] {
			return fmt.Errorf("field %s refers back to %s: recursive types cannot be written as a flat JSON Schema; break the cycle (for example with an ID string)", path, t)
		}
		onPath[t] = true
		defer delete(onPath, t)
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if err := checkJSONType(f.Type, path+"."+name, onPath); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validator checks JSON values against one compiled JSON Schema, generated
// from a Go type, and encodes values of that type the way the schema wants
// them ([Validator.Encode], [Validator.WithDefaults]). It is safe for
// concurrent use.
type Validator struct {
	subject  string
	schema   *sj.Schema
	raw      json.RawMessage
	typ      reflect.Type
	fill     *fillPlan     // nil: no nil slice or map to fill
	defaults *defaultsPlan // nil: no declared defaults
	nulls    *nullPlan     // nil: no optional property to drop when null
}

func newValidator(t reflect.Type, raw json.RawMessage, subject string) (*Validator, error) {
	doc, err := sj.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("compiling its JSON Schema: %w", err)
	}
	// Formats (date-time, email, ...) are annotations unless asserted (the
	// compiler does): a malformed time would otherwise pass here and fail
	// later, in json.Unmarshal.
	c, err := newSubschemas(doc)
	if err != nil {
		return nil, fmt.Errorf("compiling its JSON Schema: %w", err)
	}
	s, err := c.compile("")
	if err != nil {
		return nil, fmt.Errorf("compiling its JSON Schema: %w", err)
	}
	node, _ := doc.(map[string]any)
	defaults, err := newDefaultsPlan(t, node, "", c)
	if err != nil {
		return nil, err
	}
	return &Validator{subject: subject, schema: s, raw: raw, typ: t,
		fill: newFillPlan(t, map[reflect.Type]bool{}), defaults: defaults, nulls: newNullPlan(t, node)}, nil
}

// Schema returns the JSON Schema the validator checks against. The slice is
// shared: do not modify it.
func (v *Validator) Schema() json.RawMessage { return v.raw }

// Validate checks one JSON document. A failure is a *[ValidationError] that
// names each offending field's path and what was expected; malformed JSON is
// reported the same way, at the root.
func (v *Validator) Validate(data []byte) error {
	doc, err := decodeOne(data)
	if err != nil {
		return &ValidationError{Subject: v.subject, Fields: []FieldError{{Path: "", Message: err.Error()}}}
	}
	err = v.schema.Validate(doc)
	if err == nil {
		return nil
	}
	ve, ok := err.(*sj.ValidationError)
	if !ok {
		return &ValidationError{Subject: v.subject, Fields: []FieldError{{Path: "", Message: err.Error()}}}
	}
	return newValidationError(v.subject, ve)
}

// ValidateValue encodes x as JSON (as [Validator.Encode] does) and
// validates it.
func (v *Validator) ValidateValue(x any) error {
	data, err := v.Encode(x)
	if err != nil {
		return &ValidationError{Subject: v.subject, Fields: []FieldError{{Path: "", Message: "cannot encode as JSON: " + err.Error()}}}
	}
	return v.Validate(data)
}

// decodeOne parses exactly one JSON value, keeping numbers exact.
func decodeOne(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("empty input: expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("malformed JSON: unexpected data after the first value")
	}
	return doc, nil
}
