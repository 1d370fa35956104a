package schema

import (
	"reflect"
	"strings"
)

// A fillPlan says where, in values of one Go type, encoding/json would write
// null for a nil slice or map although the type's JSON Schema wants an array
// or object (`at /tags: got null, want array`). [Validator.Encode] writes
// [] or {} there instead. Plans are built once, at Define; a type with no
// such place has a nil plan and costs nothing when encoded.
//
// A place is filled when it is a slice (a []byte too: its schema is a
// string) or a map that is not itself declared nullable:
//   - a struct field without omitempty/omitzero (those leave the field out)
//     and without `jsonschema:"nullable"` (whose schema accepts null);
//   - an element of a slice or array, or a value of a map.
//
// A nil pointer is left alone, as is anything under a type with its own JSON
// encoding (json.Marshaler, encoding.TextMarshaler: json.RawMessage,
// time.Time) or behind an interface, and fields of unexported embedded
// structs, which cannot be set through reflection.
type fillPlan struct {
	kind   reflect.Kind
	empty  bool         // a nil value of this slice or map type becomes empty
	fields []fieldFill  // struct: the fields that need work
	elem   *fillPlan    // slice, array, map value, pointer target
	typ    reflect.Type // the type the plan is for
}

// fieldFill is one struct field that needs work.
type fieldFill struct {
	index int
	plan  *fillPlan
}

// newFillPlan returns t's plan, nil when values of t never encode a null
// the schema would reject. onPath stops at recursive types, which Define
// refuses anyway.
func newFillPlan(t reflect.Type, onPath map[reflect.Type]bool) *fillPlan {
	if encodesItself(t) || onPath[t] {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if elem := newFillPlan(t.Elem(), onPath); elem != nil {
			return &fillPlan{kind: reflect.Pointer, elem: elem, typ: t}
		}
	case reflect.Slice, reflect.Map:
		return &fillPlan{kind: t.Kind(), empty: true, elem: newFillPlan(t.Elem(), onPath), typ: t}
	case reflect.Array:
		if elem := newFillPlan(t.Elem(), onPath); elem != nil {
			return &fillPlan{kind: reflect.Array, elem: elem, typ: t}
		}
	case reflect.Struct:
		onPath[t] = true
		defer delete(onPath, t)
		var fields []fieldFill
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue // unexported embedded structs cannot be set
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			p := newFillPlan(f.Type, onPath)
			if p == nil {
				continue
			}
			if p.empty && (hasOption(opts, "omitempty") || hasOption(opts, "omitzero") || nullableTag(f.Tag)) {
				// Declared nullable, or left out when nil: keep the nil,
				// but still fill inside a non-nil value.
				if p.elem == nil {
					continue
				}
				q := *p
				q.empty = false
				p = &q
			}
			fields = append(fields, fieldFill{index: i, plan: p})
		}
		if len(fields) > 0 {
			return &fillPlan{kind: reflect.Struct, fields: fields, typ: t}
		}
	}
	return nil
}

// encodesItself reports whether t has its own JSON encoding.
func encodesItself(t reflect.Type) bool {
	return t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) ||
		t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)
}

// hasOption reports whether the options of a json tag (after the name)
// contain opt.
func hasOption(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// nullableTag reports whether a field's jsonschema tag declares it nullable.
func nullableTag(tag reflect.StructTag) bool {
	for o := range strings.SplitSeq(tag.Get("jsonschema"), ",") {
		if o == "nullable" {
			return true
		}
	}
	return false
}

// fill returns v with every nil the plan names replaced by an empty slice or
// map, and whether anything changed. v itself is never modified: what
// changes is copied, so a caller's value (and the arrays and maps it shares)
// stays as it was.
func (p *fillPlan) fill(v reflect.Value) (reflect.Value, bool) {
	switch p.kind {
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		e, ok := p.elem.fill(v.Elem())
		if !ok {
			return v, false
		}
		n := reflect.New(p.typ.Elem())
		n.Elem().Set(e)
		return n, true
	case reflect.Slice, reflect.Map:
		if v.IsNil() {
			if !p.empty {
				return v, false
			}
			if p.kind == reflect.Map {
				return reflect.MakeMap(p.typ), true
			}
			return reflect.MakeSlice(p.typ, 0, 0), true
		}
		if p.elem == nil {
			return v, false
		}
		if p.kind == reflect.Map {
			return p.fillMap(v)
		}
		return p.fillElems(v)
	case reflect.Array:
		return p.fillElems(v)
	case reflect.Struct:
		var out reflect.Value
		for _, f := range p.fields {
			nv, ok := f.plan.fill(v.Field(f.index))
			if !ok {
				continue
			}
			if !out.IsValid() {
				out = reflect.New(p.typ).Elem()
				out.Set(v)
			}
			out.Field(f.index).Set(nv)
		}
		return out, out.IsValid()
	}
	return v, false
}

// fillElems fills the elements of a slice or array, copying it on the
// first change.
func (p *fillPlan) fillElems(v reflect.Value) (reflect.Value, bool) {
	var out reflect.Value
	for i := range v.Len() {
		nv, ok := p.elem.fill(v.Index(i))
		if !ok {
			continue
		}
		if !out.IsValid() {
			if p.kind == reflect.Array {
				out = reflect.New(p.typ).Elem()
			} else {
				out = reflect.MakeSlice(p.typ, v.Len(), v.Len())
			}
			reflect.Copy(out, v)
		}
		out.Index(i).Set(nv)
	}
	return out, out.IsValid()
}

// fillMap fills a map's values, copying the map on the first change.
func (p *fillPlan) fillMap(v reflect.Value) (reflect.Value, bool) {
	var out reflect.Value
	it := v.MapRange()
	for it.Next() {
		nv, ok := p.elem.fill(it.Value())
		if !ok {
			continue
		}
		if !out.IsValid() {
			out = reflect.MakeMapWithSize(p.typ, v.Len())
			for k, e := range v.Seq2() {
				out.SetMapIndex(k, e)
			}
		}
		out.SetMapIndex(it.Key(), nv)
	}
	return out, out.IsValid()
}
