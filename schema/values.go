package schema

import (
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
