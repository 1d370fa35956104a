package schema_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/schema"
)

type Label struct {
	Name  string            `json:"name"`
	Notes []string          `json:"notes"`
	Attrs map[string]string `json:"attrs"`
}

type Note struct {
	ID       string           `json:"id"`
	Tags     []string         `json:"tags"`
	Meta     map[string]int   `json:"meta"`
	Blob     []byte           `json:"blob"`
	Main     Label            `json:"main"`
	Labels   []Label          `json:"labels"`
	ByName   map[string]Label `json:"byName"`
	Ptr      *Label           `json:"ptr"`
	Optional []string         `json:"optional,omitempty"`
	Nullable []string         `json:"nullable" jsonschema:"nullable"`
	Raw      json.RawMessage  `json:"raw,omitempty"`
}

func noteValidator(t *testing.T) *schema.Validator {
	t.Helper()
	notes := schema.Table[Note]("notes")
	s, err := schema.Define(1, notes)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Table("notes")
	return info.Rows
}

func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return m
}

func TestEncodeWritesNilSlicesAndMapsAsEmpty(t *testing.T) {
	v := noteValidator(t)
	n := Note{ID: "1", Labels: []Label{{Name: "a"}}, ByName: map[string]Label{"k": {Name: "k"}}, Ptr: &Label{Name: "p"}}
	// The premise: json.Marshal alone writes null, which the schema refuses.
	plain, _ := json.Marshal(n)
	var ve *schema.ValidationError
	if err := v.Validate(plain); !errors.As(err, &ve) || !slices.ContainsFunc(ve.Fields, func(f schema.FieldError) bool { return f.Path == "/tags" }) {
		t.Fatalf("json.Marshal of a nil slice: %v, want a null refused at /tags", err)
	}
	for _, x := range []any{n, &n} {
		data, err := v.Encode(x)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(data); err != nil {
			t.Fatalf("Encode(%T) = %s: %v", x, data, err)
		}
		got := decode(t, data)
		want := map[string]any{
			"tags": []any{}, "meta": map[string]any{}, "blob": "",
			"main":     map[string]any{"name": "", "notes": []any{}, "attrs": map[string]any{}},
			"labels":   []any{map[string]any{"name": "a", "notes": []any{}, "attrs": map[string]any{}}},
			"byName":   map[string]any{"k": map[string]any{"name": "k", "notes": []any{}, "attrs": map[string]any{}}},
			"ptr":      map[string]any{"name": "p", "notes": []any{}, "attrs": map[string]any{}},
			"nullable": nil, // declared nullable: null stays
		}
		for k, w := range want {
			if !reflect.DeepEqual(got[k], w) {
				t.Errorf("Encode(%T): %s = %#v, want %#v", x, k, got[k], w)
			}
		}
		if _, ok := got["optional"]; ok {
			t.Errorf("Encode(%T): omitempty field written: %s", x, data)
		}
	}
	// The caller's value, and what it shares, are left as they were.
	if n.Tags != nil || n.Labels[0].Notes != nil || n.ByName["k"].Notes != nil || n.Ptr.Notes != nil {
		t.Errorf("Encode modified its argument: %+v", n)
	}
}

func TestEncodeLeavesNilPointersAndOtherTypesAlone(t *testing.T) {
	v := noteValidator(t)
	data, err := v.Encode(Note{Tags: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, data); got["ptr"] != nil || !reflect.DeepEqual(got["tags"], []any{"x"}) {
		t.Errorf("Encode = %s: want ptr null and tags kept", data)
	}
	other := map[string]any{"tags": nil}
	if data, _ := v.Encode(other); string(data) != `{"tags":null}` {
		t.Errorf("Encode of another type = %s, want json.Marshal's output", data)
	}
	var nilNote *Note
	if data, _ := v.Encode(nilNote); string(data) != "null" {
		t.Errorf("Encode of a nil *Note = %s, want null", data)
	}
}

type Dims struct {
	W int `json:"w" jsonschema:"default=640"`
	H int `json:"h,omitempty" jsonschema:"default=480"`
}

type Base struct {
	Lang string `json:"lang" jsonschema:"default=en"`
}

type Doc struct {
	Base
	ID       string          `json:"id"`
	Title    string          `json:"title" jsonschema:"default=untitled"`
	Priority int             `json:"priority,omitempty" jsonschema:"default=1,minimum=1"`
	Public   bool            `json:"public" jsonschema:"default=true"`
	Tags     []string        `json:"tags" jsonschema:"default=a,default=b"`
	Status   string          `json:"status" jsonschema:"enum=draft,enum=done,default=draft"`
	Size     Dims            `json:"size"`
	Thumb    *Dims           `json:"thumb,omitempty"`
	Pages    []Dims          `json:"pages"`
	Named    map[string]Dims `json:"named"`
}

func docValidator(t *testing.T) *schema.Validator {
	t.Helper()
	s, err := schema.Define(1, schema.Mutator[Doc]("putDoc", "Put a doc"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Mutator("putDoc")
	return info.Input
}

func TestWithDefaultsFillsMissingFields(t *testing.T) {
	v := docValidator(t)
	in := []byte(`{"id":"d1","pages":[{"w":1},{"h":2}],"named":{"x":{}},"thumb":{"w":3}}`)
	if err := v.Validate(in); err == nil {
		t.Fatal("the premise: an input without its required defaulted fields is refused")
	}
	out := v.WithDefaults(in)
	if err := v.Validate(out); err != nil {
		t.Fatalf("WithDefaults = %s: %v", out, err)
	}
	var d Doc
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	want := Doc{Base: Base{Lang: "en"}, ID: "d1", Title: "untitled", Priority: 1, Public: true, Tags: []string{"a", "b"},
		Status: "draft", Size: Dims{W: 640, H: 480}, Thumb: &Dims{W: 3, H: 480},
		Pages: []Dims{{W: 1, H: 480}, {W: 640, H: 2}}, Named: map[string]Dims{"x": {W: 640, H: 480}}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("WithDefaults = %s\n decoded %+v\n want    %+v", out, d, want)
	}
}

func TestWithDefaultsKeepsWhatIsThere(t *testing.T) {
	v := docValidator(t)
	in := []byte(`{"lang":"fr","id":"d","title":"","priority":5,"public":false,"tags":[],"status":"done",` +
		`"size":{"w":1,"h":1},"pages":[],"named":{}}`)
	out := v.WithDefaults(in)
	if &out[0] != &in[0] {
		t.Errorf("WithDefaults copied a document with nothing missing: %s", out)
	}
	for _, notObject := range []string{`[1]`, `"x"`, `null`, `{`, `{} {}`} {
		if out := v.WithDefaults([]byte(notObject)); string(out) != notObject {
			t.Errorf("WithDefaults(%s) = %s, want it unchanged for the validator to report", notObject, out)
		}
	}
	// A type without defaults is returned as it is, with no work.
	nv := noteValidator(t)
	raw := []byte(`{"id":"1"}`)
	if out := nv.WithDefaults(raw); &out[0] != &raw[0] || nv.HasDefaults() {
		t.Errorf("a type without defaults: WithDefaults copied (%s) or HasDefaults = %v", out, nv.HasDefaults())
	}
	if !v.HasDefaults() {
		t.Error("HasDefaults = false for a type with defaults")
	}
}

func TestDefaultsThatDoNotFitAreDefineErrors(t *testing.T) {
	type badInt struct {
		N int `json:"n" jsonschema:"default=x"`
	}
	type badBool struct {
		B bool `json:"b" jsonschema:"default=yes"`
	}
	type badInts struct {
		Ns []int `json:"ns" jsonschema:"default=1"`
	}
	type badEnum struct {
		S string `json:"s" jsonschema:"enum=a,enum=b,default=c"`
	}
	type badMin struct {
		N int `json:"n" jsonschema:"minimum=1,default=0"`
	}
	type inner struct {
		N int8 `json:"n" jsonschema:"default=300"`
	}
	type badNested struct {
		In []inner `json:"in"`
	}
	for name, d := range map[string]schema.Decl{
		"n":  schema.Table[badInt]("t"),
		"b":  schema.Mutator[badBool]("m", "m"),
		"ns": schema.Table[badInts]("t"),
		"s":  schema.Table[badEnum]("t"),
		"in": schema.Table[badNested]("t"),
	} {
		if _, err := schema.Define(1, d); err == nil || !strings.Contains(err.Error(), "field "+name) {
			t.Errorf("%T: Define error = %v, want one naming field %s", d, err, name)
		}
	}
	if _, err := schema.Define(1, schema.Action[badMin, string]("a", "a")); err == nil || !strings.Contains(err.Error(), "own schema") {
		t.Errorf("a default below its minimum: Define error = %v", err)
	}
}

func TestSchemaEncodeInputByName(t *testing.T) {
	s, err := schema.Define(1, schema.Mutator[Note]("putNote", "Put a note"), schema.Action[Note, string]("readNote", "Read a note"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"putNote", "readNote"} {
		data, err := s.EncodeInput(name, Note{ID: "1"})
		if err != nil || !strings.Contains(string(data), `"tags":[]`) {
			t.Errorf("EncodeInput(%s) = %s, %v: want tags as []", name, data, err)
		}
	}
	if data, _ := s.EncodeInput("undeclared", Note{}); !strings.Contains(string(data), `"tags":null`) {
		t.Errorf("EncodeInput of an undeclared name = %s, want json.Marshal's output", data)
	}
}

// BenchmarkEncodePlainType measures Encode against json.Marshal, in the same
// run, for a type with no slice, map or default (the per-chunk row of a
// streamed answer): the plan is nil, so the two should match.
func BenchmarkEncodePlainType(b *testing.B) {
	type plain struct {
		ID     string `json:"id"`
		Text   string `json:"text"`
		Status string `json:"status,omitempty"`
	}
	s, err := schema.Define(1, schema.Table[plain]("rows"))
	if err != nil {
		b.Fatal(err)
	}
	info, _ := s.Table("rows")
	row := plain{ID: "1", Text: strings.Repeat("x", 100), Status: "generating"}
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(row)
		}
	})
	b.Run("Encode", func(b *testing.B) {
		for b.Loop() {
			_, _ = info.Rows.Encode(row)
		}
	})
	data, _ := json.Marshal(row)
	b.Run("WithDefaults", func(b *testing.B) {
		for b.Loop() {
			_ = info.Rows.WithDefaults(data)
		}
	})
}
