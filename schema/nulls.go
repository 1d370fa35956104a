package schema

import (
	"fmt"
	"reflect"
	"slices"
)

// A nullPlan lists, for one JSON object type, the optional properties where
// a JSON null means "absent", and the nested objects that hold some. Hosts
// that turn schemas into OpenAI strict form (every property required,
// optionals nullable) send null for each optional argument the model leaves
// out; Go's json.Unmarshal leaves a field alone on null too. So null at an
// optional property is read as absence: the field then takes its declared
// default, or its zero value, exactly as if it had not been sent.
//
// Null keeps its meaning where the schema accepts it (a field tagged
// `jsonschema:"nullable"`, or one of any JSON value), and stays an error at
// a required property: "at /text: got null, want string".
//
// Plans are built once, at Define, from the Go type beside its generated
// schema; a type without optional properties has a nil plan.
type nullPlan struct {
	fields []fieldNull
}

// fieldNull is one property that may be dropped when null, or that holds
// objects with such properties.
type fieldNull struct {
	name string
	drop bool      // optional and not nullable: null means absent
	obj  *nullPlan // a nested struct's own plan
	each *nullPlan // the plan of each array element or map value
}

// newNullPlan walks struct type t beside its schema node and returns its
// plan, nil when nothing in t takes null as absent.
func newNullPlan(t reflect.Type, node map[string]any) *nullPlan {
	node = objectNode(node)
	props, _ := node["properties"].(map[string]any)
	p := &nullPlan{}
	p.addFields(t, props, requiredOf(node))
	if len(p.fields) == 0 {
		return nil
	}
	return p
}

// addFields adds t's fields, and those promoted from its embedded structs,
// to p.
func (p *nullPlan) addFields(t reflect.Type, props map[string]any, required map[string]bool) {
	for name, f := range jsonFields(t) {
		ft := derefType(f.Type)
		prop, isObj := props[name].(map[string]any)
		if _, declared := props[name]; !declared {
			continue
		}
		fn := fieldNull{name: name, drop: !required[name] && isObj && !allowsNull(prop)}
		if isObj && !encodesItself(f.Type) {
			switch ft.Kind() {
			case reflect.Struct:
				fn.obj = newNullPlan(ft, prop)
			case reflect.Slice, reflect.Array:
				if et := derefType(ft.Elem()); et.Kind() == reflect.Struct && !encodesItself(et) {
					items, _ := objectNode(prop)["items"].(map[string]any)
					fn.each = newNullPlan(et, items)
				}
			case reflect.Map:
				if et := derefType(ft.Elem()); et.Kind() == reflect.Struct && !encodesItself(et) {
					vals, _ := mapValues(objectNode(prop), "")
					fn.each = newNullPlan(et, vals)
				}
			}
		}
		if fn.drop || fn.obj != nil || fn.each != nil {
			p.fields = append(p.fields, fn)
		}
	}
}

// objectNode is the branch of a nullable schema ({"oneOf": [S, {"type":
// "null"}]}) that is not null, or node itself.
func objectNode(node map[string]any) map[string]any {
	n, _ := objectBranch(node, "")
	return n
}

// objectBranch is objectNode with the JSON Pointer of the branch, given
// node's.
func objectBranch(node map[string]any, path string) (map[string]any, string) {
	for _, key := range []string{"oneOf", "anyOf"} {
		branches, _ := node[key].([]any)
		for i, b := range branches {
			if m, ok := b.(map[string]any); ok && !allowsNull(m) {
				return m, fmt.Sprintf("%s/%s/%d", path, key, i)
			}
		}
	}
	return node, path
}

// allowsNull reports whether a schema node accepts null: its type is or
// includes "null", a branch of its oneOf or anyOf does, or it constrains
// nothing at all (any JSON value).
func allowsNull(node map[string]any) bool {
	switch t := node["type"].(type) {
	case string:
		return t == "null"
	case []any:
		return slices.Contains(t, any("null"))
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if branches, ok := node[key].([]any); ok {
			return slices.ContainsFunc(branches, func(b any) bool {
				m, ok := b.(map[string]any)
				return ok && allowsNull(m) || b == true
			})
		}
	}
	if enum, ok := node["enum"].([]any); ok {
		return slices.Contains(enum, nil)
	}
	_, hasConst := node["const"]
	return !hasConst && node["$ref"] == nil && node["not"] == nil && node["allOf"] == nil
}

// apply removes the nulls p drops from obj, in nested objects too, and
// reports whether it changed anything.
func (p *nullPlan) apply(obj map[string]any) bool {
	changed := false
	for i := range p.fields {
		f := &p.fields[i]
		v, ok := obj[f.name]
		switch {
		case !ok:
		case v == nil:
			if f.drop {
				delete(obj, f.name)
				changed = true
			}
		case f.obj != nil:
			if m, ok := v.(map[string]any); ok && f.obj.apply(m) {
				changed = true
			}
		case f.each != nil:
			if eachObject(v, f.each.apply) {
				changed = true
			}
		}
	}
	return changed
}
