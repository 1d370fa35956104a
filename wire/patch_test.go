package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/wire"
)

// TestMakePatch: a streamed string travels as its appended text, other
// members as a merge patch, and what a merge patch cannot say exactly (or
// what would not be smaller) is no patch: the row goes whole.
func TestMakePatch(t *testing.T) {
	cases := []struct {
		old, new      string
		append, merge string // "" for none
		ok            bool
	}{
		{`{"text":"Hello","n":1}`, `{"text":"Hello, world","n":2}`, `{"text":", world"}`, `{"n":2}`, true},
		{`{"text":"a\\","pad":"xxxxxxxxxxxxxxxxxxxx"}`, `{"text":"a\\\\n\"é\u00e9","pad":"xxxxxxxxxxxxxxxxxxxx"}`, `{"text":"\\n\"é\u00e9"}`, ``, true},
		{`{"a":{"s":"ab","x":1},"pad":"xxxxxxxxxxxxxxxxxxxx"}`, `{"a":{"s":"abc","x":1},"pad":"xxxxxxxxxxxxxxxxxxxx"}`, `{"a":{"s":"c"}}`, ``, true},
		{`{"a":1,"b":2,"pad":"xxxxxxxxxxxxxxxxxxxx"}`, `{"b":2,"c":[null],"pad":"xxxxxxxxxxxxxxxxxxxx"}`, ``, `{"c":[null],"a":null}`, true},
		{`{"s":"abc","pad":"xxxxxxxxxxxxxxxxxxxx"}`, `{"s":"abd","pad":"xxxxxxxxxxxxxxxxxxxx"}`, ``, `{"s":"abd"}`, true},                                                        // not an extension: replaced
		{`{"big":12345678901234567890,"pad":"xxxxxxxxxxxxxxxxxxxxxx"}`, `{"big":12345678901234567891,"pad":"xxxxxxxxxxxxxxxxxxxxxx"}`, ``, `{"big":12345678901234567891}`, true}, // numbers exact
		{`{"a":1}`, `{"a":null}`, "", "", false}, // null would remove it
		{`{"a":1,"pad":"xxxxxxxxxxxxxxxxxxxx"}`, `{"a":{"b":1},"pad":"xxxxxxxxxxxxxxxxxxxx"}`, "", "", false}, // an object would merge
		{`{"a":1}`, `{"b":2}`, "", "", false}, // no smaller than the value
		{`[1]`, `[1,2]`, "", "", false},
		{`{"a":1,"a":2}`, `{"a":3,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxx"}`, "", "", false}, // a member twice
		{`{"a":1} {}`, `{"a":2}`, "", "", false},
	}
	for _, tc := range cases {
		a, m, ok := wire.MakePatch([]byte(tc.old), []byte(tc.new))
		if ok != tc.ok || string(a) != tc.append || string(m) != tc.merge {
			t.Errorf("MakePatch(%s, %s) = %s, %s, %v; want %s, %s, %v", tc.old, tc.new, a, m, ok, tc.append, tc.merge, tc.ok)
			continue
		}
		if ok {
			requireSame(t, tc.old, tc.new, a, m)
		}
	}
}

// requireSame fails unless applying the patch to old gives new.
func requireSame(t *testing.T, old, new string, a, m []byte) {
	t.Helper()
	got, err := wire.ApplyPatch([]byte(old), a, m)
	if err != nil {
		t.Fatalf("ApplyPatch(%s, %s, %s): %v", old, a, m, err)
	}
	if !sameJSON(t, got, []byte(new)) {
		t.Fatalf("ApplyPatch(%s, %s, %s) = %s, want %s", old, a, m, got, new)
	}
}

func sameJSON(t *testing.T, x, y []byte) bool {
	t.Helper()
	decode := func(b []byte) any {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		return v
	}
	return reflect.DeepEqual(decode(x), decode(y))
}

// TestApplyPatchMerges: a merge patch as RFC 7396 says (its appendix A's
// cases that apply to objects), and a patch that does not fit its base is
// refused with ErrPatch, never applied halfway.
func TestApplyPatchMerges(t *testing.T) {
	for _, tc := range []struct{ base, merge, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`{"a":"foo"}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	} {
		got, err := wire.ApplyPatch([]byte(tc.base), nil, []byte(tc.merge))
		if err != nil || string(got) != tc.want {
			t.Errorf("merge %s into %s: %s, %v; want %s", tc.merge, tc.base, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ base, append, merge string }{
		{`{"a":1}`, `{"a":"x"}`, ``},             // appending to a number
		{`{"b":"s"}`, `{"a":"x"}`, ``},           // to a member it lacks
		{`{"a":"s"}`, `{"a":{"b":"x"}}`, ``},     // into a string as if an object
		{`{"a":{"b":1}}`, `{"a":{"b":"x"}}`, ``}, // nested
		{`[1]`, ``, `{"a":1}`},                   // a base that is not an object
		{`{"a":"s"}`, `"x"`, ``},                 // a patch that is not one
		{`{"a":"s"}`, ``, `[1]`},
		{`{"a":1,"a":2}`, ``, `{"a":3}`},
		{`{"a":"s"`, ``, `{"a":3}`},
	} {
		got, err := wire.ApplyPatch([]byte(tc.base), []byte(tc.append), []byte(tc.merge))
		if !errors.Is(err, wire.ErrPatch) {
			t.Errorf("append %s, merge %s into %s: %s, %v; want ErrPatch", tc.append, tc.merge, tc.base, got, err)
		}
	}
}

// FuzzPatchRoundTrip: whatever two objects MakePatch finds a patch between,
// applying it to the first gives the second.
func FuzzPatchRoundTrip(f *testing.F) {
	f.Add(`{"text":"Hello","n":1,"t":1765049000123456789}`, `{"text":"Hello, world","n":2,"t":1765049000123456799}`)
	f.Add(`{"a":{"s":"a\\","x":[1,{"y":null}]},"q":"`+strings.Repeat("z", 30)+`"}`, `{"a":{"s":"a\\\\u0041","x":[1]},"q":"`+strings.Repeat("z", 30)+`"}`)
	f.Add(`{"a":"\u00e9","b":true}`, `{"a":"\u00e9\u00e9","b":false,"c":"`+strings.Repeat("w", 30)+`"}`)
	f.Fuzz(func(t *testing.T, old, new string) {
		if !json.Valid([]byte(old)) || !json.Valid([]byte(new)) {
			return
		}
		a, m, ok := wire.MakePatch([]byte(old), []byte(new))
		if ok {
			requireSame(t, old, new, a, m)
		}
	})
}
