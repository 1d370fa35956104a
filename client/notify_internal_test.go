package client

import (
	"encoding/json"
	"testing"
)

// TestDecodeNotice: the changes a notification carries are read whether the
// transport decoded _meta generically (HTTP, stdio) or handed the server's
// raw JSON over (in-process); anything else is no notice, and the watcher
// reads the changes itself.
func TestDecodeNotice(t *testing.T) {
	raw := json.RawMessage(`{"after":3,"version":4,"events":[{"version":4,"changes":[{"key":"a","op":"put","value":{"n":7}}]}]}`)
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for name, meta := range map[string]any{"generic": generic, "raw": raw} {
		n := decodeNotice(meta)
		if n == nil || n.After != 3 || n.Version != 4 || len(n.Events) != 1 || string(n.Events[0].Changes[0].Value) != `{"n":7}` {
			t.Errorf("%s: decoded %+v", name, n)
		}
	}
	for name, meta := range map[string]any{"absent": nil, "a string": string(raw), "a number": 4.0} {
		if n := decodeNotice(meta); n != nil {
			t.Errorf("%s: decoded %+v, want none", name, n)
		}
	}
}
