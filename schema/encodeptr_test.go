package schema_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mcp-sync/mcp-sync/schema"
)

type ptrStamp struct{ N int }

func (s *ptrStamp) MarshalJSON() ([]byte, error) { return []byte(`"stamp"`), nil }

type ptrIn struct {
	Tags  []string `json:"tags"`
	Stamp ptrStamp `json:"stamp"`
}

// TestEncodeMatchesMarshalForPointers: Encode of a pointer whose nil slice
// it fills still runs the fields' pointer-receiver MarshalJSON, as
// json.Marshal of the pointer does (the filled copy used to be marshalled
// as a value, which skips them); a value input encodes as json.Marshal of
// the value does.
func TestEncodeMatchesMarshalForPointers(t *testing.T) {
	_, v, err := schema.ForType(reflect.TypeFor[ptrIn](), "ptrIn")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []any{&ptrIn{}, ptrIn{}} {
		got, err := v.Encode(x)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := json.Marshal(x)
		var want map[string]any
		_ = json.Unmarshal(plain, &want)
		want["tags"] = []any{}
		wantJSON, _ := json.Marshal(want)
		var gotMap map[string]any
		_ = json.Unmarshal(got, &gotMap)
		gotJSON, _ := json.Marshal(gotMap)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("Encode(%T) = %s, want %s", x, got, wantJSON)
		}
	}
}
