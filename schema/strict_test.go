package schema_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/schema"
)

type Wide struct {
	ID     string            `json:"id" jsonschema:"minLength=1,description=the id"`
	Count  int               `json:"count,omitempty" jsonschema:"minimum=1,maximum=9,default=3"`
	Kind   string            `json:"kind,omitempty" jsonschema:"enum=a,enum=b"`
	Tags   []string          `json:"tags,omitempty" jsonschema:"minItems=1,maxItems=2"`
	When   string            `json:"when,omitempty" jsonschema:"format=date-time"`
	Code   string            `json:"code,omitempty" jsonschema:"pattern=^[a-z]+$,maxLength=5"`
	Maybe  *Part             `json:"maybe,omitempty" jsonschema:"nullable"`
	Parts  []Part            `json:"parts"`
	Labels map[string]string `json:"labels,omitempty"`
	Any    any               `json:"any,omitempty"`
}

func wideInput(t *testing.T) *schema.MutatorInfo {
	t.Helper()
	s, err := schema.Define(1, schema.Mutator[Wide]("putWide", "x"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Mutator("putWide")
	return m
}

// TestStrictRewrite: optional properties become nullable and required,
// constraints move into descriptions in words, oneOf becomes anyOf,
// nested objects (in arrays and nullable branches) are closed too; a map
// and an any-valued field are named as problems. The validator is not
// touched: the declared rules still hold.
func TestStrictRewrite(t *testing.T) {
	m := wideInput(t)
	raw, problems, err := schema.Strict(m.InputSchema)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Properties map[string]any `json:"properties"`
		Required   []string       `json:"required"`
		Additional any            `json:"additionalProperties"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if want := "id count kind tags when code maybe parts labels any"; strings.Join(got.Required, " ") != want {
		t.Errorf("required = %v, want %s (in declared order)", got.Required, want)
	}
	if got.Additional != false {
		t.Errorf("additionalProperties = %v", got.Additional)
	}
	prop := func(p string) map[string]any { m, _ := got.Properties[p].(map[string]any); return m }
	desc := func(p string) string { s, _ := prop(p)["description"].(string); return s }
	for p, want := range map[string]string{
		"id":    "the id (at least 1 character)",
		"count": "at least 1; at most 9; default 3",
		"kind":  `one of: "a", "b"`,
		"tags":  "at least 1 item; at most 2 items",
		"when":  "format date-time",
		"code":  "at most 5 characters; matching the regular expression ^[a-z]+$",
	} {
		if !strings.Contains(desc(p), want) {
			t.Errorf("%s: description %q lacks %q", p, desc(p), want)
		}
	}
	for _, kw := range []string{"minLength", "maxLength", "minimum", "maximum", "default", "pattern", "format", "minItems", "maxItems", "oneOf", "$schema"} {
		if strings.Contains(string(raw), `"`+kw+`"`) {
			t.Errorf("strict schema still has %s: %s", kw, raw)
		}
	}
	if enum, _ := prop("kind")["enum"].([]any); len(enum) != 3 || enum[2] != nil {
		t.Errorf("kind's enum = %v, want null added", enum)
	}
	if typ, _ := prop("count")["type"].([]any); len(typ) != 2 || typ[1] != "null" {
		t.Errorf("count's type = %v, want [integer null]", prop("count")["type"])
	}
	for _, p := range []string{"parts", "maybe"} {
		if !strings.Contains(string(mustJSON(t, prop(p))), `"additionalProperties":false`) ||
			!strings.Contains(string(mustJSON(t, prop(p))), `"required":["name","size","note"]`) {
			t.Errorf("%s: nested object not made strict: %s", p, mustJSON(t, prop(p)))
		}
	}
	if len(problems) != 2 || !strings.HasPrefix(problems[0], "/labels: a map") || !strings.HasPrefix(problems[1], "/any: takes any JSON value") {
		t.Errorf("problems = %q", problems)
	}

	// The declared rules still hold.
	if err := m.Input.Validate([]byte(`{"id":"","parts":[],"count":10}`)); err == nil {
		t.Error("the validator accepted what the declared schema refuses")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStrictRefusesWhatIsNotASchema: input that is not a schema object is
// an error, not a panic.
func TestStrictRefusesWhatIsNotASchema(t *testing.T) {
	for _, in := range []string{``, `[1]`, `{"properties":3}`} {
		if _, _, err := schema.Strict(json.RawMessage(in)); err == nil {
			t.Errorf("Strict(%q): no error", in)
		}
	}
}

// TestEnumNamedInDescription: a generated enum is named in the
// description, with the description kept; WithEnum does the same for an
// enum added after generation.
func TestEnumNamedInDescription(t *testing.T) {
	m := wideInput(t)
	if !strings.Contains(string(m.InputSchema), `"description":"one of: \"a\", \"b\""`) {
		t.Errorf("kind's enum is not in its description: %s", m.InputSchema)
	}
	raw, err := schema.WithEnum(m.InputSchema, "id", []any{"x", "y"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"enum":["x","y"]`) || !strings.Contains(string(raw), `"description":"the id (one of: \"x\", \"y\")"`) {
		t.Errorf("WithEnum: %s", raw)
	}
	if !strings.HasPrefix(string(raw), `{"properties":{"id":`) {
		t.Errorf("WithEnum did not keep the order of properties: %s", raw)
	}
	if _, err := schema.WithEnum(m.InputSchema, "nope", nil); err == nil {
		t.Error("WithEnum of a missing property: no error")
	}
}

// TestEncodeFillsNilsWithoutAValidator: schema.Encode writes a struct's nil
// required slices and maps as [] and {}, as a validator of its type would;
// other values as json.Marshal does.
func TestEncodeFillsNilsWithoutAValidator(t *testing.T) {
	type in struct {
		Tags []string         `json:"tags"`
		Meta map[string]int   `json:"meta"`
		Opt  []string         `json:"opt,omitempty"`
		Ptr  *[]string        `json:"ptr"`
		Raw  json.RawMessage  `json:"raw,omitempty"`
		Sub  []map[string]int `json:"sub"`
	}
	for _, x := range []any{in{Sub: []map[string]int{nil}}, &in{Sub: []map[string]int{nil}}} {
		got, err := schema.Encode(x)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"tags":[],"meta":{},"ptr":null,"sub":[{}]}`; string(got) != want {
			t.Errorf("Encode(%T) = %s, want %s", x, got, want)
		}
	}
	for _, x := range []any{nil, map[string]any{"a": nil}, []string(nil), json.RawMessage(`{"a":1}`), 3} {
		got, err := schema.Encode(x)
		want, _ := json.Marshal(x)
		if err != nil || string(got) != string(want) {
			t.Errorf("Encode(%#v) = %s, %v; want %s", x, got, err, want)
		}
	}
}
