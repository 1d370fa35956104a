package schema

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Encode returns x as JSON, the way a value of the validator's Go type is
// stored and sent: like json.Marshal, except that a nil slice or map the
// schema wants as an array or object is written as [] or {} instead of null
// (a []byte as ""). A field that is omitempty, omitzero or tagged
// `jsonschema:"nullable"` keeps json.Marshal's behaviour, as does a nil
// pointer; see the package doc. x is never modified. A value of any other
// type than the validator's (or a pointer to it) is encoded by json.Marshal
// alone.
//
// Types with no slice or map pay nothing beyond json.Marshal: what to fill
// is worked out once, at Define.
func (v *Validator) Encode(x any) ([]byte, error) {
	if v.fill == nil || x == nil {
		return json.Marshal(x)
	}
	rv := reflect.ValueOf(x)
	byPointer := false
	switch {
	case rv.Type() == v.typ:
	case rv.Kind() == reflect.Pointer && rv.Type().Elem() == v.typ && !rv.IsNil():
		rv, byPointer = rv.Elem(), true
	default:
		return json.Marshal(x)
	}
	if filled, ok := v.fill.fill(rv); ok {
		if byPointer && filled.CanAddr() {
			// As json.Marshal(x) would: through a pointer, the fields'
			// pointer-receiver MarshalJSON methods run.
			return json.Marshal(filled.Addr().Interface())
		}
		return json.Marshal(filled.Interface())
	}
	return json.Marshal(x)
}

// Encode returns x as JSON the way a [Validator] made from x's type would
// ([Validator.Encode]): like json.Marshal, except that a nil slice or map
// the type's schema wants as an array or object is written as [] or {}.
// It is for Go code that sends a value without holding its validator, such
// as a client calling a tool by name: a nil slice then reaches the server
// as the empty array its schema requires, not as a null it refuses. A
// pointer to a struct is encoded as the struct; other values as
// json.Marshal does. What to fill is worked out on each call, from x's
// type.
func Encode(x any) ([]byte, error) {
	if x == nil {
		return json.Marshal(x)
	}
	t := reflect.TypeOf(x)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return json.Marshal(x)
	}
	return (&Validator{typ: t, fill: newFillPlan(t, map[reflect.Type]bool{})}).Encode(x)
}

// WithDefaults returns the JSON object data with every missing field that
// declares `jsonschema:"default=…"` set to its default, in nested objects
// too (in arrays and map values of structs as well). A missing nested
// struct that its parent requires is created, holding its own defaults. A
// field present with any value, null included, is left alone. When nothing
// is missing, or data is not a JSON object, data itself is returned.
//
// It costs nothing for a type without defaults. With defaults, it decodes
// and re-encodes data, so key order may change.
func (v *Validator) WithDefaults(data []byte) []byte {
	if v.defaults == nil {
		return data
	}
	return v.defaults.applyJSON(data)
}

// Prepare returns the JSON object data as a mutator's, action's or read
// tool's handler is to see it: a null at an optional property (one not
// required and not declared nullable) is taken as absent and removed, in
// nested objects too, and then every missing field that declares a default
// gets it, as [Validator.WithDefaults] does. So {"status": null} reads as
// {} (and as {"status": "ready"} when that is the field's default). A null
// the schema accepts stays, and a null at a required property is left for
// [Validator.Validate] to report.
//
// When nothing changes, or data is not a JSON object, data itself is
// returned. An input without the text "null" in it costs what WithDefaults
// costs.
func (v *Validator) Prepare(data []byte) []byte {
	if v.nulls == nil || !bytes.Contains(data, []byte("null")) {
		return v.WithDefaults(data)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers pass through exactly
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return data
	}
	changed := v.nulls.apply(obj)
	if v.defaults != nil && v.defaults.apply(obj) {
		changed = true
	}
	if !changed {
		return data
	}
	out, err := json.Marshal(obj)
	if err != nil { // cannot happen: decoded JSON re-encodes
		return data
	}
	return out
}

// HasDefaults reports whether the validator's type declares any default,
// so that callers can skip work (such as copying a row) for types without.
func (v *Validator) HasDefaults() bool { return v.defaults != nil }

// EncodeInput encodes input for the mutator or action named name as
// [Validator.Encode] does with its input type; an undeclared name is
// encoded by json.Marshal alone (the call that follows reports the name).
// Go code that calls a mutator or action by name encodes with it, so that a
// nil slice in the input is sent as [] rather than refused as null.
func (s *Schema) EncodeInput(name string, input any) ([]byte, error) {
	switch d := s.byName[name].(type) {
	case *MutatorInfo:
		return d.Input.Encode(input)
	case *ActionInfo:
		return d.Input.Encode(input)
	}
	return json.Marshal(input)
}
