package tools_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/examples/conformance"
	notesapp "github.com/mcp-sync/mcp-sync/examples/notes"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/tools"
)

// openAIStrictProblems checks a tool's input schema against the rules of
// OpenAI's strict function calling, which hosts that forward schemas with
// strict: true (LangChain's convertToOpenAITool(t, {strict: true})) need,
// and returns every rule it breaks. It is written from those rules, not
// from the code that makes the schemas:
//   - the root is an object (not a union), with no $schema;
//   - every node says its type (or is an anyOf, enum or const), with types
//     JSON Schema knows; an array says its items;
//   - every object has properties, lists each of them in required, and has
//     additionalProperties: false;
//   - only the keywords strict mode takes appear (the rest would be refused
//     or ignored);
//   - a nullable enum lists null among its values.
func openAIStrictProblems(raw json.RawMessage) []string {
	var root any
	if err := json.Unmarshal(raw, &root); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var problems []string
	bad := func(path, format string, a ...any) {
		if path == "" {
			path = "(root)"
		}
		problems = append(problems, path+": "+fmt.Sprintf(format, a...))
	}
	obj, _ := root.(map[string]any)
	if obj == nil || obj["type"] != "object" {
		bad("", "the root must be an object schema, got %s", raw)
		return problems
	}
	if _, ok := obj["anyOf"]; ok {
		bad("", "the root must not be anyOf")
	}
	allowed := map[string]bool{"type": true, "properties": true, "required": true, "additionalProperties": true,
		"items": true, "enum": true, "const": true, "anyOf": true, "description": true, "title": true}
	knownTypes := map[string]bool{"string": true, "number": true, "integer": true, "boolean": true, "object": true, "array": true, "null": true}
	var check func(n any, path string)
	check = func(n any, path string) {
		node, ok := n.(map[string]any)
		if !ok {
			bad(path, "a schema must be an object, got %v", n)
			return
		}
		for k := range node {
			if !allowed[k] {
				bad(path, "keyword %q is not supported in strict mode", k)
			}
		}
		var types []string
		switch t := node["type"].(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				s, _ := x.(string)
				types = append(types, s)
			}
		case nil:
			_, any := node["anyOf"]
			_, enum := node["enum"]
			_, cnst := node["const"]
			if !any && !enum && !cnst {
				bad(path, "no type")
			}
		default:
			bad(path, "type must be a string or a list, got %v", t)
		}
		for _, t := range types {
			if !knownTypes[t] {
				bad(path, "unknown type %q", t)
			}
		}
		if enum, ok := node["enum"].([]any); ok && slices.Contains(types, "null") && !slices.Contains(enum, nil) {
			bad(path, "nullable, but null is not among the enum's values")
		}
		if branches, ok := node["anyOf"].([]any); ok {
			for i, b := range branches {
				check(b, fmt.Sprintf("%s/anyOf/%d", path, i))
			}
		}
		if slices.Contains(types, "array") {
			if items, ok := node["items"]; ok {
				check(items, path+"/items")
			} else {
				bad(path, "an array must declare items")
			}
		}
		if slices.Contains(types, "object") || node["properties"] != nil {
			props, ok := node["properties"].(map[string]any)
			if !ok {
				bad(path, "an object must declare properties")
				return
			}
			if node["additionalProperties"] != false {
				bad(path, "additionalProperties must be false, got %v", node["additionalProperties"])
			}
			var keys, req []string
			for k := range props {
				keys = append(keys, k)
			}
			list, _ := node["required"].([]any)
			for _, r := range list {
				s, _ := r.(string)
				req = append(req, s)
			}
			sort.Strings(keys)
			sort.Strings(req)
			if !slices.Equal(keys, req) {
				bad(path, "required must list every property: properties %v, required %v", keys, req)
			}
			for _, k := range keys {
				check(props[k], path+"/"+k)
			}
		}
	}
	check(obj, "")
	return problems
}

// TestStrictSchemasPassOpenAIRules: with Options.StrictSchemas, every
// listed tool's input schema of every example app (and this package's
// test app) passes the strict rules, each property the declaration leaves
// optional is nullable, and no listed schema, input or output, carries
// $schema.
func TestStrictSchemasPassOpenAIRules(t *testing.T) {
	getenv := func(string) string { return "" }
	apps := map[string]func(t *testing.T) *backend.Engine{
		"todo":        func(t *testing.T) *backend.Engine { return openApp(t, todo.Config(nil, getenv)) },
		"notes":       func(t *testing.T) *backend.Engine { return openApp(t, notesapp.Config(nil)) },
		"conformance": func(t *testing.T) *backend.Engine { return openApp(t, conformance.Config()) },
		"tools-test":  func(t *testing.T) *backend.Engine { return newApp(t).eng },
	}
	for name, open := range apps {
		t.Run(name, func(t *testing.T) {
			eng := open(t)
			declared := listTools(t, eng, false)
			strict := listTools(t, eng, true)
			if len(strict) == 0 || len(strict) != len(declared) {
				t.Fatalf("strict listing has %d tools, the declared one %d", len(strict), len(declared))
			}
			for _, tool := range strict {
				for _, p := range openAIStrictProblems(tool.InputSchema) {
					t.Errorf("tool %s: %s\n%s", tool.Name, p, tool.InputSchema)
				}
				for _, p := range optionalNotNullable(declaredTool(declared, tool.Name).InputSchema, tool.InputSchema) {
					t.Errorf("tool %s: optional property %s cannot be null in the strict schema", tool.Name, p)
				}
			}
			// The check can fail: each app declares some optional property,
			// which the declared schemas leave out of required.
			if !slices.ContainsFunc(declared, func(tool listedTool) bool { return len(openAIStrictProblems(tool.InputSchema)) > 0 }) {
				t.Error("every declared input schema passes the strict check: the check checks nothing")
			}
			for _, tool := range append(declared, strict...) {
				if strings.Contains(string(tool.InputSchema)+string(tool.OutputSchema), `"$schema"`) {
					t.Errorf("tool %s carries $schema: %s %s", tool.Name, tool.InputSchema, tool.OutputSchema)
				}
			}
		})
	}
}

// openApp opens an engine of cfg in a temporary directory, closed when the
// test ends.
func openApp(t *testing.T, cfg backend.Config) *backend.Engine {
	t.Helper()
	eng, err := backend.Open(cfg, backend.Options{Path: filepath.Join(t.TempDir(), "app.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// listTools lists eng's tools as a server with or without StrictSchemas
// publishes them.
func listTools(t *testing.T, eng *backend.Engine, strict bool) []listedTool {
	t.Helper()
	srv, err := tools.New(eng, tools.Options{Logger: quietLogger(), StrictSchemas: strict})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var resp struct {
		Result struct {
			Tools []listedTool `json:"tools"`
		} `json:"result"`
	}
	raw := rpc(t, srv, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("tools/list: %v: %s", err, raw)
	}
	return resp.Result.Tools
}

// listedTool is a tool as tools/list shows it, its schemas as sent.
type listedTool struct {
	Name         string          `json:"name"`
	InputSchema  json.RawMessage `json:"inputSchema"`
	OutputSchema json.RawMessage `json:"outputSchema"`
}

func declaredTool(ts []listedTool, name string) listedTool {
	for _, t := range ts {
		if t.Name == name {
			return t
		}
	}
	return listedTool{}
}

// optionalNotNullable lists the properties, at any depth, that the declared
// schema leaves optional and the strict one does not let be null.
func optionalNotNullable(declared, strict json.RawMessage) []string {
	var d, s map[string]any
	_ = json.Unmarshal(declared, &d)
	_ = json.Unmarshal(strict, &s)
	var out []string
	var walk func(d, s map[string]any, path string)
	walk = func(d, s map[string]any, path string) {
		props, _ := d["properties"].(map[string]any)
		sprops, _ := s["properties"].(map[string]any)
		req, _ := d["required"].([]any)
		for name, dp := range props {
			sp, _ := sprops[name].(map[string]any)
			if !slices.Contains(req, any(name)) && !takesNull(sp) {
				out = append(out, path+"/"+name)
			}
			if dm, ok := dp.(map[string]any); ok {
				walk(objectOf(dm), objectOf(sp), path+"/"+name)
			}
		}
	}
	walk(d, s, "")
	return out
}

// takesNull reports whether a strict schema node lets a value be null.
func takesNull(n map[string]any) bool {
	if t, ok := n["type"].([]any); ok && slices.Contains(t, any("null")) {
		return true
	}
	if n["type"] == "null" {
		return true
	}
	branches, _ := n["anyOf"].([]any)
	return slices.ContainsFunc(branches, func(b any) bool {
		m, _ := b.(map[string]any)
		return m != nil && takesNull(m)
	})
}

// objectOf is the object branch of a nullable node, or the node.
func objectOf(n map[string]any) map[string]any {
	for _, key := range []string{"oneOf", "anyOf"} {
		branches, _ := n[key].([]any)
		for _, b := range branches {
			if m, _ := b.(map[string]any); m != nil && m["properties"] != nil {
				return m
			}
		}
	}
	return n
}

// TestStrictCallsWithNulls: what a strict host sends (every optional
// argument null) is taken as absent by mutators and read tools alike, over
// a real client; a null where a value is required is still refused,
// naming the field, and writes nothing.
func TestStrictCallsWithNulls(t *testing.T) {
	eng := openApp(t, todo.Config(nil, func(string) string { return "" }))
	_, base := serveOpts(t, eng, tools.Options{StrictSchemas: true}, tools.HTTPOptions{})
	for _, e := range eras {
		c, _ := connect(t, base, e, nil)
		id := "strict-" + e.name
		res := call(t, c, "setTodo", map[string]any{"id": id, "text": "milk", "completed": false, "status": nil, "error": nil})
		if res.IsError {
			t.Fatalf("%s: setTodo with status null: %s", e.name, text(res))
		}
		res = call(t, c, "get_row", map[string]any{"table": "todos", "key": id})
		if res.IsError || !strings.Contains(text(res), `"text":"milk"`) || strings.Contains(text(res), `"status"`) {
			t.Errorf("%s: get_row after setTodo with status null: %s", e.name, text(res))
		}
		res = call(t, c, "list_rows", map[string]any{"table": "todos", "prefix": nil, "after": nil, "limit": nil, "reverse": nil})
		if res.IsError || !strings.Contains(text(res), id) {
			t.Errorf("%s: list_rows with every option null: %s", e.name, text(res))
		}
		before := eng.Version()
		res = call(t, c, "setTodo", map[string]any{"id": id, "text": nil, "completed": false, "status": nil})
		if !res.IsError || !strings.Contains(text(res), "at /text: got null, want string") {
			t.Errorf("%s: setTodo with text null: want an error naming /text, got %s", e.name, text(res))
		}
		if eng.Version() != before {
			t.Errorf("%s: a refused call wrote: version %d, then %d", e.name, before, eng.Version())
		}
		res = call(t, c, "get_row", map[string]any{"table": "todos", "key": nil})
		if !res.IsError || !strings.Contains(text(res), "at /key: got null, want string") {
			t.Errorf("%s: get_row with key null: want an error naming /key, got %s", e.name, text(res))
		}
	}
}

// TestReadToolsValidateLikeMutators: a read tool's bad arguments are
// reported by the same validator, in the same words, as a mutator's: the
// field's path and what was expected, never Go's types or field names.
func TestReadToolsValidateLikeMutators(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	c, _ := connect(t, base, eras[0], nil)
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"putItem", map[string]any{"key": 1, "name": "x"}, "invalid input of mutator putItem: at /key: got number, want string"},
		{"get_row", map[string]any{"table": "items", "key": 1}, "invalid arguments of get_row: at /key: got number, want string"},
		{"putItem", map[string]any{"key": "k", "name": "x", "extra": 1}, "invalid input of mutator putItem: at (root): additional properties 'extra' not allowed"},
		{"list_rows", map[string]any{"table": "items", "extra": 1}, "invalid arguments of list_rows: at (root): additional properties 'extra' not allowed"},
		{"list_rows", map[string]any{"table": "items", "limit": 5000}, "invalid arguments of list_rows: at /limit: maximum: got 5,000, want 1,000"},
		{"get_run", map[string]any{}, "invalid arguments of get_run: at (root): missing property 'id'"},
	} {
		res := call(t, c, tc.tool, tc.args)
		if !res.IsError || !strings.Contains(text(res), tc.want) {
			t.Errorf("%s %v: want an error with %q, got %q", tc.tool, tc.args, tc.want, text(res))
		}
		if strings.Contains(text(res), "json:") || strings.Contains(text(res), "Go struct") {
			t.Errorf("%s %v: the error speaks Go: %q", tc.tool, tc.args, text(res))
		}
	}
}

// TestEnumValuesInDescriptions: every enum in a listed input schema is
// named in its property's description too, for hosts whose schema
// converters drop enum.
func TestEnumValuesInDescriptions(t *testing.T) {
	eng := openApp(t, notesapp.Config(nil))
	for _, strict := range []bool{false, true} {
		for _, tool := range listTools(t, eng, strict) {
			var sch struct {
				Properties map[string]struct {
					Enum        []any  `json:"enum"`
					Description string `json:"description"`
				} `json:"properties"`
			}
			if err := json.Unmarshal(tool.InputSchema, &sch); err != nil {
				t.Fatal(err)
			}
			for name, p := range sch.Properties {
				for _, v := range p.Enum {
					if v != nil && !strings.Contains(p.Description, fmt.Sprintf("%q", v)) {
						t.Errorf("strict=%v: tool %s: property %s: enum value %v not named in its description %q", strict, tool.Name, name, v, p.Description)
					}
				}
			}
		}
	}
}
