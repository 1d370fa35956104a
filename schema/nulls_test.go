package schema_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/schema"
)

type Part struct {
	Name string `json:"name"`
	Size int    `json:"size,omitempty" jsonschema:"default=3"`
	Note string `json:"note,omitempty"`
}

type Owned struct {
	Owner string `json:"owner,omitempty"`
}

type Purchase struct {
	Owned
	ID       string          `json:"id" jsonschema:"minLength=1"`
	Status   string          `json:"status,omitempty" jsonschema:"enum=open,enum=closed"`
	Limit    int             `json:"limit,omitempty" jsonschema:"default=100"`
	Ptr      *int            `json:"ptr,omitempty" jsonschema:"default=7"`
	Nullable *string         `json:"nullable,omitempty" jsonschema:"nullable"`
	Any      any             `json:"any,omitempty"`
	Main     Part            `json:"main"`
	Extra    *Part           `json:"extra,omitempty"`
	MaybePtr *Part           `json:"maybePtr,omitempty" jsonschema:"nullable"`
	Parts    []Part          `json:"parts,omitempty"`
	ByName   map[string]Part `json:"byName,omitempty"`
	Tags     []string        `json:"tags,omitempty"`
	Text     string          `json:"text"`
}

func purchaseValidator(t *testing.T) *schema.Validator {
	t.Helper()
	s, err := schema.Define(1, schema.Mutator[Purchase]("putPurchase", "x"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Mutator("putPurchase")
	return m.Input
}

// jsonEq compares two JSON documents as values.
func jsonEq(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %s", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestPrepareTakesNullAsAbsent: null at an optional property is dropped at
// every depth, so the field gets its default or zero value; the result
// validates.
func TestPrepareTakesNullAsAbsent(t *testing.T) {
	v := purchaseValidator(t)
	in := `{"id":"o","text":"t","owner":null,"status":null,"limit":null,"ptr":null,"tags":null,
		"main":{"name":"m","size":null,"note":null},"extra":{"name":"e","note":null},
		"maybePtr":{"name":"p","size":null},
		"parts":[{"name":"a","size":null},{"name":"b","note":null}],"byName":{"x":{"name":"x","note":null}}}`
	got := v.Prepare([]byte(in))
	jsonEq(t, got, `{"id":"o","text":"t","limit":100,"ptr":7,
		"main":{"name":"m","size":3},"extra":{"name":"e","size":3},"maybePtr":{"name":"p","size":3},
		"parts":[{"name":"a","size":3},{"name":"b","size":3}],"byName":{"x":{"name":"x","size":3}}}`)
	if err := v.Validate(got); err != nil {
		t.Errorf("the prepared input does not validate: %v", err)
	}
	var o Purchase
	if err := json.Unmarshal(got, &o); err != nil || o.Limit != 100 || o.Ptr == nil || *o.Ptr != 7 || o.Status != "" {
		t.Errorf("decoded: %+v, %v", o, err)
	}
}

// TestPrepareKeepsNullsTheSchemaTakes: a nullable field and an any-typed
// one keep their null; a null at a required property stays, and
// validation names it.
func TestPrepareKeepsNullsTheSchemaTakes(t *testing.T) {
	v := purchaseValidator(t)
	got := v.Prepare([]byte(`{"id":"o","text":"t","nullable":null,"any":null,"maybePtr":null,"main":{"name":"m"}}`))
	jsonEq(t, got, `{"id":"o","text":"t","nullable":null,"any":null,"maybePtr":null,"limit":100,"ptr":7,"main":{"name":"m","size":3}}`)
	if err := v.Validate(got); err != nil {
		t.Errorf("declared nulls refused: %v", err)
	}

	got = v.Prepare([]byte(`{"id":null,"text":null,"main":{"name":null}}`))
	err := v.Validate(got)
	for _, want := range []string{"at /id: got null, want string", "at /text: got null, want string", "at /main/name: got null, want string"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a null at a required property: want %q in the error, got %v", want, err)
		}
	}
}

// TestPrepareLeavesOtherInputAlone: input without a null to drop comes back
// as it was (the same bytes when nothing is missing), as does input that is
// not an object: Validate reports that.
func TestPrepareLeavesOtherInputAlone(t *testing.T) {
	v := purchaseValidator(t)
	for _, in := range []string{
		`{"id":"o","text":"null","limit":1,"ptr":2,"main":{"name":"m","size":1}}`,
		`[null]`, `null`, `{"id":`, `"text"`,
	} {
		if got := v.Prepare([]byte(in)); string(got) != in {
			t.Errorf("Prepare(%s) = %s, want it unchanged", in, got)
		}
	}
	// A type without optional fields has no plan: nothing is decoded.
	s, err := schema.Define(1, schema.Mutator[Part]("putPart", "x"), schema.Mutator[struct {
		A string `json:"a"`
	}]("plain", "y"))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := s.Mutator("plain")
	if got := plain.Input.Prepare([]byte(`{"a":null}`)); string(got) != `{"a":null}` {
		t.Errorf("a required null was changed: %s", got)
	}
}

// BenchmarkPrepare: what Prepare costs on the engine's input path against
// what the path did before it (WithDefaults, then Validate), measured in
// the same run, medians of 5 rounds: an input with no null to drop (the
// usual call) and one whose every optional field is null (what a
// strict-mode host sends).
func BenchmarkPrepare(b *testing.B) {
	v := purchaseValidator(&testing.T{})
	plain := []byte(`{"id":"o","text":"buy milk","status":"open","limit":5,"ptr":1,"main":{"name":"m","size":1}}`)
	nulls := []byte(`{"id":"o","text":"buy milk","owner":null,"status":null,"limit":null,"ptr":null,"nullable":null,"tags":null,"parts":null,"main":{"name":"m","size":null,"note":null}}`)
	variants := []struct {
		name string
		run  func()
	}{
		{"defaults+validate", func() { _ = v.Validate(v.WithDefaults(plain)) }},
		{"prepare+validate", func() { _ = v.Validate(v.Prepare(plain)) }},
		{"prepare-nulls+validate", func() { _ = v.Validate(v.Prepare(nulls)) }},
	}
	const rounds, n = 5, 2000
	ns := make([][]float64, len(variants))
	for b.Loop() {
		for i := range ns {
			ns[i] = ns[i][:0]
		}
		for range rounds {
			for i, vr := range variants {
				start := time.Now()
				for range n {
					vr.run()
				}
				ns[i] = append(ns[i], float64(time.Since(start).Nanoseconds())/n)
			}
		}
	}
	median := func(xs []float64) float64 { xs = slices.Clone(xs); slices.Sort(xs); return xs[len(xs)/2] }
	base := median(ns[0])
	b.ReportMetric(base, "ns/baseline")
	b.ReportMetric(median(ns[1])/base, "x-baseline(no-null)")
	b.ReportMetric(median(ns[2])/base, "x-baseline(nulls)")
}
