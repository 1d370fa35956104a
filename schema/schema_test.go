package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

type Todo struct {
	ID        string `json:"id"`
	Text      string `json:"text" jsonschema:"description=What to do"`
	Completed bool   `json:"completed"`
	Status    string `json:"status,omitempty" jsonschema:"enum=ready,enum=generating,enum=error"`
}

type GenerateIn struct {
	ID     string `json:"id"`
	Prompt string `json:"prompt" jsonschema:"minLength=1"`
}

type GenerateOut struct {
	Text string `json:"text"`
}

// Address and Order exercise every shape the generator must flatten.
type Address struct {
	Street string `json:"street" jsonschema:"description=Street and number,minLength=1"`
	Zip    *int   `json:"zip,omitempty" jsonschema:"minimum=1000,maximum=99999"`
}

type Line struct {
	SKU      string  `json:"sku" jsonschema:"pattern=^[A-Z]{3}-[0-9]+$"`
	Quantity int     `json:"quantity" jsonschema:"minimum=1"`
	Price    float64 `json:"price"`
}

type Order struct {
	ID       string            `json:"id" jsonschema:"description=Order id"`
	Priority string            `json:"priority" jsonschema:"enum=low,enum=normal,enum=high"`
	Ship     Address           `json:"ship"`
	Bill     *Address          `json:"bill,omitempty"`
	Lines    []Line            `json:"lines" jsonschema:"minItems=1"`
	Tags     []string          `json:"tags,omitempty"`
	Meta     map[string]string `json:"meta,omitempty"`
	Counts   map[string]int    `json:"counts,omitempty"`
	Placed   time.Time         `json:"placed"`
	Note     *string           `json:"note,omitempty"`
	//lint:ignore U1000 unexported fields must be left out of the generated schema; this one exists only to prove that.
	internal int
	Skipped  string `json:"-"`
}

type Node struct {
	Name     string `json:"name"`
	Children []Node `json:"children"`
}

type Indirect struct {
	Name string `json:"name"`
	Next *Link  `json:"next"`
}

type Link struct {
	To Indirect `json:"to"`
}

type WithChan struct {
	Name string   `json:"name"`
	Done chan int `json:"done"`
}

type WithFunc struct {
	Hook func() `json:"hook"`
}

type BadMapKey struct {
	M map[Address]string `json:"m"`
}

func TestDefineRefusesEachMistake(t *testing.T) {
	cases := []struct {
		name  string
		decls []schema.Decl
		want  []string // every fragment must appear in the error
	}{
		{"duplicate table and mutator", []schema.Decl{schema.Table[Todo]("todos"), schema.Mutator[Todo]("todos", "x")},
			[]string{`mutator "todos"`, `already declared by table "todos"`}},
		{"duplicate mutator and action", []schema.Decl{schema.Mutator[Todo]("setTodo", "x"), schema.Action[GenerateIn, GenerateOut]("setTodo", "y")},
			[]string{`action "setTodo"`, `already declared by mutator "setTodo"`}},
		{"duplicate tables", []schema.Decl{schema.Table[Todo]("todos"), schema.Table[Todo]("todos")},
			[]string{`table "todos"`, "already declared"}},
		{"empty name", []schema.Decl{schema.Table[Todo]("")}, []string{`table ""`, "invalid name"}},
		{"name with a space", []schema.Decl{schema.Mutator[Todo]("set todo", "x")}, []string{`mutator "set todo"`, "invalid name", "1 to 64"}},
		{"name with a dot", []schema.Decl{schema.Action[GenerateIn, GenerateOut]("ai.generate", "x")}, []string{`action "ai.generate"`, "invalid name"}},
		{"name too long", []schema.Decl{schema.Table[Todo](strings.Repeat("a", 65))}, []string{"invalid name"}},
		{"row not a struct", []schema.Decl{schema.Table[int]("nums")}, []string{`table "nums"`, "row type", "int is not a struct"}},
		{"row is a map", []schema.Decl{schema.Table[map[string]any]("bag")}, []string{`table "bag"`, "not a struct"}},
		{"input is a pointer", []schema.Decl{schema.Mutator[*Todo]("setTodo", "x")}, []string{`mutator "setTodo"`, "input type", "pointer", "schema_test.Todo itself"}},
		{"input is a slice", []schema.Decl{schema.Action[[]string, GenerateOut]("gen", "x")}, []string{`action "gen"`, "input type", "not a struct"}},
		{"output is an int", []schema.Decl{schema.Action[GenerateIn, int]("gen", "x")}, []string{`action "gen"`, "output type", "int is not a struct", "or use string"}},
		{"recursive through a slice", []schema.Decl{schema.Table[Node]("nodes")}, []string{`table "nodes"`, "Node.children[]", "recursive"}},
		{"recursive through a pointer", []schema.Decl{schema.Mutator[Indirect]("link", "x")}, []string{`mutator "link"`, "Indirect.next.to", "recursive"}},
		{"channel field", []schema.Decl{schema.Table[WithChan]("c")}, []string{`table "c"`, "WithChan.done", "chan int", "JSON cannot encode"}},
		{"func field", []schema.Decl{schema.Action[WithFunc, GenerateOut]("f", "x")}, []string{`action "f"`, "WithFunc.hook"}},
		{"map with struct keys", []schema.Decl{schema.Table[BadMapKey]("m")}, []string{`table "m"`, "BadMapKey.m", "keyed by"}},
		{"ServerOnly on a mutator", []schema.Decl{schema.Mutator[Todo]("setTodo", "x", schema.ServerOnly())}, []string{`mutator "setTodo"`, "ServerOnly applies to tables only", "use schema.Internal()"}},
		{"ServerOnly on an action", []schema.Decl{schema.Action[GenerateIn, GenerateOut]("gen", "x", schema.ServerOnly())}, []string{`action "gen"`, "use schema.Internal()"}},
		{"Private with ServerOnly", []schema.Decl{schema.Table[Todo]("notes", schema.Private(), schema.ServerOnly())}, []string{`table "notes"`, "Private and ServerOnly exclude each other"}},
		{"Private on a mutator", []schema.Decl{schema.Mutator[Todo]("setTodo", "x", schema.Private())}, []string{`mutator "setTodo"`, "Private applies to tables only"}},
		{"Internal on a table", []schema.Decl{schema.Table[Todo]("todos", schema.Internal())}, []string{`table "todos"`, "Internal applies to mutators and actions", "schema.ServerOnly()"}},
		{"Idempotent on a table", []schema.Decl{schema.Table[Todo]("todos", schema.Idempotent())}, []string{`table "todos"`, "Idempotent applies to mutators and actions"}},
		{"Destructive on a table", []schema.Decl{schema.Table[Todo]("todos", schema.Destructive())}, []string{`table "todos"`, "Destructive applies"}},
		{"Description option on an action", []schema.Decl{schema.Action[GenerateIn, GenerateOut]("gen", "x", schema.Description("y"))}, []string{`action "gen"`, "second argument"}},
		{"zero-value declaration", []schema.Decl{schema.TableDef[Todo]{}}, []string{"declaration #1", "schema.Table"}},
		{"MaxRowBytes on a mutator", []schema.Decl{schema.Mutator[Todo]("setTodo", "x", schema.MaxRowBytes(10))}, []string{`mutator "setTodo"`, "MaxRowBytes applies to tables only"}},
		{"MaxRowBytes of 0", []schema.Decl{schema.Table[Todo]("todos", schema.MaxRowBytes(0))}, []string{`table "todos"`, "at least 1 byte"}},
		{"Sensitive on a table", []schema.Decl{schema.Table[Todo]("todos", schema.Sensitive())}, []string{`table "todos"`, "Sensitive applies to actions only"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := schema.Define(1, tc.decls...)
			if err == nil {
				t.Fatalf("Define accepted it: %v", s)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			var de *schema.DefineError
			if !errors.As(err, &de) {
				t.Errorf("error is %T, want *schema.DefineError", err)
			}
		})
	}
}

func TestDefineReportsEveryProblemAndTheVersion(t *testing.T) {
	_, err := schema.Define(0, schema.Table[int]("a"), schema.Table[Todo]("b c"), schema.Table[Todo]("ok"))
	if err == nil {
		t.Fatal("Define accepted version 0 and two bad tables")
	}
	var de *schema.DefineError
	if !errors.As(err, &de) || len(de.Errs) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	for _, w := range []string{"schema version is 0", `table "a"`, `table "b c"`, "3 problems"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), `table "ok"`) {
		t.Errorf("error names the valid table: %q", err)
	}
}

func TestMustDefinePanicsWithTheProblem(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(error).Error(), `table "nums"`) {
			t.Fatalf("recovered %v, want the DefineError", r)
		}
	}()
	schema.MustDefine(1, schema.Table[int]("nums"))
}

func todoSchema(t *testing.T) *schema.Schema {
	t.Helper()
	s, err := schema.Define(3,
		schema.Table[Todo]("todos", schema.Description("Things to do")),
		schema.Table[GenerateOut]("secrets", schema.ServerOnly()),
		schema.Table[GenerateOut]("notes", schema.Private()),
		schema.Mutator[Todo]("setTodo", "Create or replace a todo", schema.Idempotent()),
		schema.Mutator[GenerateIn]("deleteTodo", "Delete a todo", schema.Destructive()),
		schema.Action[GenerateIn, GenerateOut]("generateWithAI", "Generate todo text with AI"),
		schema.Action[GenerateIn, string]("summarize", "Summarize as plain text"),
		schema.Mutator[GenerateOut]("setSecret", "Store a secret", schema.Internal()),
		schema.Action[GenerateIn, string]("rotate", "Rotate the key", schema.Internal()),
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchemaLookups(t *testing.T) {
	s := todoSchema(t)
	if s.Version() != 3 {
		t.Errorf("Version = %d", s.Version())
	}
	if len(s.Tables()) != 3 || s.Tables()[0].Name != "todos" || s.Tables()[1].Name != "secrets" {
		t.Errorf("Tables not in declaration order: %v", s.Tables())
	}
	todos, ok := s.Table("todos")
	if !ok || todos.ServerOnly || todos.Description != "Things to do" {
		t.Errorf("todos = %+v", todos)
	}
	if sec, _ := s.Table("secrets"); !sec.ServerOnly || sec.Private {
		t.Error("secrets is not server-only")
	}
	if n, _ := s.Table("notes"); !n.Private || n.ServerOnly {
		t.Errorf("notes = %+v, want private", n)
	}
	if _, ok := s.Table("setTodo"); ok {
		t.Error("a mutator was found as a table")
	}
	m, ok := s.Mutator("setTodo")
	if !ok || !m.Idempotent || m.Destructive || m.Description != "Create or replace a todo" {
		t.Errorf("setTodo = %+v", m)
	}
	if d, _ := s.Mutator("deleteTodo"); !d.Destructive {
		t.Error("deleteTodo is not destructive")
	}
	if m.Internal {
		t.Error("setTodo is internal")
	}
	if sec, _ := s.Mutator("setSecret"); sec == nil || !sec.Internal {
		t.Error("setSecret is not internal")
	}
	if r, _ := s.Action("rotate"); r == nil || !r.Internal {
		t.Error("rotate is not internal")
	}
	if g, _ := s.Action("summarize"); g.Internal {
		t.Error("summarize is internal")
	}
	a, ok := s.Action("generateWithAI")
	if !ok || a.TextOutput || a.Output == nil || len(a.OutputSchema) == 0 {
		t.Errorf("generateWithAI = %+v", a)
	}
	txt, _ := s.Action("summarize")
	if !txt.TextOutput || txt.OutputSchema != nil || txt.Output != nil {
		t.Errorf("summarize should be text output: %+v", txt)
	}
	if _, ok := s.Action("nope"); ok {
		t.Error("found an undeclared action")
	}
}

// TestGoldenSchemas fixes the generated JSON Schemas. Run with -update to
// rewrite them after a deliberate change.
func TestGoldenSchemas(t *testing.T) {
	s, err := schema.Define(1,
		schema.Table[Order]("orders"),
		schema.Mutator[Todo]("setTodo", "x"),
		schema.Action[GenerateIn, GenerateOut]("generateWithAI", "y"),
	)
	if err != nil {
		t.Fatal(err)
	}
	orders, _ := s.Table("orders")
	set, _ := s.Mutator("setTodo")
	gen, _ := s.Action("generateWithAI")
	for name, raw := range map[string]json.RawMessage{
		"order.row.json":       orders.RowSchema,
		"todo.input.json":      set.InputSchema,
		"generate.input.json":  gen.InputSchema,
		"generate.output.json": gen.OutputSchema,
	} {
		t.Run(name, func(t *testing.T) {
			var root map[string]any
			if err := json.Unmarshal(raw, &root); err != nil {
				t.Fatal(err)
			}
			if root["type"] != "object" {
				t.Errorf("root type = %v, want object", root["type"])
			}
			for _, k := range []string{"$ref", "$defs", "definitions", "$id"} {
				if bytes.Contains(raw, []byte(`"`+k+`"`)) {
					t.Errorf("schema contains %s: not flat", k)
				}
			}
			// 2020-12 is MCP's default; Gemini's parameters refuse $schema.
			if bytes.Contains(raw, []byte(`"$schema"`)) {
				t.Errorf("schema carries $schema: %s", raw)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("..", "testdata", "schema", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./schema -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("%s differs from the golden file:\n%s", name, pretty.String())
			}
		})
	}
}

func TestValidationNamesThePath(t *testing.T) {
	s, err := schema.Define(1, schema.Table[Order]("orders"), schema.Mutator[Todo]("setTodo", "x"))
	if err != nil {
		t.Fatal(err)
	}
	orders, _ := s.Table("orders")
	set, _ := s.Mutator("setTodo")
	cases := []struct {
		name string
		v    *schema.Validator
		in   string
		want []schema.FieldError // Path and a fragment of Message
	}{
		{"wrong type", set.Input, `{"id":"1","text":5,"completed":false}`,
			[]schema.FieldError{{Path: "/text", Message: "got number, want string"}}},
		{"missing required", set.Input, `{"id":"1","completed":false}`,
			[]schema.FieldError{{Path: "", Message: "text"}}},
		{"enum", set.Input, `{"id":"1","text":"a","completed":false,"status":"done"}`,
			[]schema.FieldError{{Path: "/status", Message: "'ready', 'generating', 'error'"}}},
		{"unknown field", set.Input, `{"id":"1","text":"a","completed":false,"colour":"red"}`,
			[]schema.FieldError{{Path: "", Message: "colour"}}},
		{"nested in a slice", orders.Rows, `{"id":"o","priority":"low","ship":{"street":"x"},"placed":"2026-01-01T00:00:00Z","lines":[{"sku":"ABC-1","quantity":1,"price":1},{"sku":"bad","quantity":0,"price":"free"}]}`,
			[]schema.FieldError{{Path: "/lines/1/price", Message: "want number"}, {Path: "/lines/1/quantity", Message: "minimum"}, {Path: "/lines/1/sku", Message: "pattern"}}},
		{"nested struct and pointer", orders.Rows, `{"id":"o","priority":"low","ship":{"street":""},"bill":{"street":"y","zip":5},"placed":"2026-01-01T00:00:00Z","lines":[{"sku":"ABC-1","quantity":1,"price":1}]}`,
			[]schema.FieldError{{Path: "/bill/zip", Message: "minimum"}, {Path: "/ship/street", Message: "minLength"}}},
		{"map value", orders.Rows, `{"id":"o","priority":"low","ship":{"street":"x"},"placed":"2026-01-01T00:00:00Z","lines":[{"sku":"ABC-1","quantity":1,"price":1}],"counts":{"a":"one"}}`,
			[]schema.FieldError{{Path: "/counts/a", Message: "want integer"}}},
		{"format", orders.Rows, `{"id":"o","priority":"low","ship":{"street":"x"},"placed":"yesterday","lines":[{"sku":"ABC-1","quantity":1,"price":1}]}`,
			[]schema.FieldError{{Path: "/placed", Message: "date-time"}}},
		{"malformed JSON", set.Input, `{"id":`, []schema.FieldError{{Path: "", Message: "malformed JSON"}}},
		{"trailing data", set.Input, `{"id":"1","text":"a","completed":false} {}`, []schema.FieldError{{Path: "", Message: "after the first value"}}},
		{"empty", set.Input, ``, []schema.FieldError{{Path: "", Message: "empty input"}}},
		{"not an object", set.Input, `[1,2]`, []schema.FieldError{{Path: "", Message: "want object"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Validate([]byte(tc.in))
			var ve *schema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want *schema.ValidationError", err)
			}
			if len(ve.Fields) != len(tc.want) {
				t.Fatalf("fields = %+v, want %d: %+v", ve.Fields, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				got := ve.Fields[i]
				if got.Path != w.Path || !strings.Contains(got.Message, w.Message) {
					t.Errorf("field %d = %+v, want path %q and message containing %q", i, got, w.Path, w.Message)
				}
			}
			if !strings.HasPrefix(err.Error(), "invalid ") || !strings.Contains(err.Error(), "at ") {
				t.Errorf("message %q does not read 'invalid SUBJECT: at PATH: ...'", err)
			}
		})
	}
}

func TestValidationSubjectAndValidValues(t *testing.T) {
	s := todoSchema(t)
	set, _ := s.Mutator("setTodo")
	err := set.Input.Validate([]byte(`{"id":1,"text":"a","completed":false}`))
	if err == nil || err.Error() != "invalid input of mutator setTodo: at /id: got number, want string" {
		t.Errorf("message = %v", err)
	}
	if err := set.Input.Validate([]byte(`{"id":"1","text":"a","completed":true,"status":"ready"}`)); err != nil {
		t.Errorf("valid input refused: %v", err)
	}
	todos, _ := s.Table("todos")
	if err := todos.Rows.ValidateValue(Todo{ID: "1", Text: "x"}); err != nil {
		t.Errorf("valid row refused: %v", err)
	}
	err = todos.Rows.ValidateValue(Todo{ID: "1", Status: "bogus"})
	if err == nil || !strings.Contains(err.Error(), "invalid row of table todos: at /status") {
		t.Errorf("bad row: %v", err)
	}
	gen, _ := s.Action("generateWithAI")
	err = gen.Output.ValidateValue(map[string]any{"text": 3})
	if err == nil || !strings.Contains(err.Error(), "invalid output of action generateWithAI: at /text") {
		t.Errorf("bad output: %v", err)
	}
	err = gen.Input.ValidateValue(make(chan int))
	if err == nil || !strings.Contains(err.Error(), "cannot encode as JSON") {
		t.Errorf("unencodable value: %v", err)
	}
}

func TestDeclarationsAreReusable(t *testing.T) {
	todos := schema.Table[Todo]("todos")
	a, errA := schema.Define(1, todos)
	b, errB := schema.Define(2, todos, schema.Mutator[Todo]("setTodo", "x"))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if len(a.Mutators()) != 0 || len(b.Mutators()) != 1 {
		t.Error("schemas share state")
	}
	if todos.Name() != "todos" || todos.Kind() != schema.KindTable || schema.KindAction.String() != "action" {
		t.Error("declaration accessors")
	}
	var zero schema.TableDef[Todo]
	if zero.Name() != "" {
		t.Error("zero declaration has a name")
	}
}

func TestLimitAndSensitiveOptionsAreRecorded(t *testing.T) {
	s := schema.MustDefine(1,
		schema.Table[Todo]("todos", schema.MaxRowBytes(64<<10)),
		schema.Table[Todo]("plain"),
		schema.Action[GenerateIn, GenerateOut]("gen", "x", schema.Sensitive()),
		schema.Action[GenerateIn, GenerateOut]("open", "x"))
	if t1, _ := s.Table("todos"); t1.MaxRowBytes != 64<<10 {
		t.Errorf("todos.MaxRowBytes = %d", t1.MaxRowBytes)
	}
	if t2, _ := s.Table("plain"); t2.MaxRowBytes != 0 {
		t.Errorf("plain.MaxRowBytes = %d, want 0 (the engine's default)", t2.MaxRowBytes)
	}
	if a, _ := s.Action("gen"); !a.Sensitive {
		t.Error("gen is not sensitive")
	}
	if a, _ := s.Action("open"); a.Sensitive {
		t.Error("open is sensitive")
	}
}
