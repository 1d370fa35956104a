package tools

import (
	"encoding/json"
	"testing"

	"github.com/mcp-sync/mcp-sync/wire"
)

// TestEncodePageIsJSONMarshal: a page encodes to the bytes json.Marshal
// gives for it (values compact and free of <, > and &, as stored values of
// encoded Go structs are), escapes and all.
func TestEncodePageIsJSONMarshal(t *testing.T) {
	pages := []wire.ListRowsOut{
		{Table: "items", Rows: []wire.Row{}, Version: 0},
		{Table: "items", Rows: []wire.Row{
			{Key: "a", Value: json.RawMessage(`{"name":"x","n":[1,2.5,null]}`)},
			{Key: "q\"<>&\\/\u2028\xff", Value: json.RawMessage(`"s"`)},
			{Key: "bad", Value: json.RawMessage(`null`), Damaged: "row bad of table items is damaged"},
		}, Next: "q<&>", Version: 18446744073709551615},
	}
	for _, p := range pages {
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodePage(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("encodePage:\n got %s\nwant %s", got, want)
		}
	}
}

// TestAppendStringIsJSONMarshal: every byte, alone and amid plain text, and
// some runes escape as json.Marshal escapes them (the plain ASCII fast path
// included).
func TestAppendStringIsJSONMarshal(t *testing.T) {
	strs := []string{"", "todo-0000123", "é", "\u2028", "\u2029", "a\xffb", "日本"}
	for c := range 256 {
		strs = append(strs, string([]byte{byte(c)}), "key"+string([]byte{byte(c)})+"x")
	}
	for _, s := range strs {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendString([]byte("prefix"), s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "prefix"+string(want) {
			t.Errorf("appendString(%q) = %s, want prefix%s", s, got, want)
		}
	}
}
