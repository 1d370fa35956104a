package backend_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
)

func TestRowAndInputLimits(t *testing.T) {
	e, _, _ := openJobApp(t, filepath.Join(t.TempDir(), "h.db"), func(o *backend.Options) {
		o.MaxRowBytes = 2000
		o.MaxInputBytes = 8000
	})
	if _, err := e.Mutate(t.Context(), "put", mustJSON(PutIn{Table: "notes", Key: "keep", Text: "kept"})); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   PutIn
		want []string
	}{
		{"over the engine's row limit", PutIn{Table: "notes", Key: "big", Text: strings.Repeat("x", 3000)},
			[]string{"table notes", `"big"`, "over the table's 2000-byte row limit", "--max-row-bytes"}},
		{"over the table's own limit", PutIn{Table: "small", Key: "s", Text: strings.Repeat("x", 200)},
			[]string{"table small", "100-byte row limit"}},
		{"over the input limit", PutIn{Table: "notes", Key: "huge", Text: strings.Repeat("x", 9000)},
			[]string{"mutator put", "over the 8000-byte input limit", "--max-input-bytes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v0 := e.Version()
			_, err := e.Mutate(t.Context(), "put", mustJSON(tc.in))
			if backend.KindOf(err) != backend.ErrInvalidInput {
				t.Fatalf("err = %v (kind %v), want invalid input", err, backend.KindOf(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if e.Version() != v0 {
				t.Error("a refused write moved the version")
			}
			if _, ok, _, _ := e.Get(t.Context(), "notes", "keep"); !ok {
				t.Error("a refused write lost a stored row")
			}
		})
	}
	if _, err := e.Mutate(t.Context(), "put", mustJSON(PutIn{Table: "notes", Key: "ok", Text: strings.Repeat("x", 1500)})); err != nil {
		t.Errorf("a row under the limit was refused: %v", err)
	}
	if _, err := e.Act(t.Context(), "job", mustJSON(JobIn{ID: strings.Repeat("x", 9000)})); backend.KindOf(err) != backend.ErrInvalidInput ||
		!strings.Contains(err.Error(), "action job") {
		t.Errorf("an oversize action input: %v", err)
	}
	v0 := e.Version()
	_, err := e.Mutate(t.Context(), "startSecret", mustJSON(JobIn{ID: "i", Mode: "inflate", Secret: strings.Repeat("s", 1000)}))
	if backend.KindOf(err) != backend.ErrInvalidInput || !strings.Contains(err.Error(), "enqueue secretJob") || e.Version() != v0 {
		t.Errorf("enqueueing an input over the input limit: %v", err)
	}
}

func TestKeysAreBoundedText(t *testing.T) {
	e, _, _ := openJobApp(t, filepath.Join(t.TempDir(), "h.db"))
	long := strings.Repeat("k", 2000)
	for _, tc := range []struct{ name, input, want string }{
		{"empty key", `{"table":"notes","key":"","text":"x"}`, "the key is empty"},
		{"long key", `{"table":"notes","key":"` + long + `","text":"x"}`, "over the 1024-byte key limit"},
		{"long key, delete", `{"table":"notes","key":"` + long + `","text":"","del":true}`, "over the 1024-byte key limit"},
		{"invalid UTF-8 bytes", "{\"table\":\"notes\",\"key\":\"a\xffb\",\"text\":\"x\"}", "not valid UTF-8"},
		{"lone high surrogate", `{"table":"notes","key":"a\ud800b","text":"x"}`, `lone UTF-16 surrogate escape (\ud800)`},
		{"lone low surrogate", `{"table":"notes","key":"a\udc00","text":"x"}`, "lone UTF-16 surrogate"},
		{"high surrogate then a plain escape", `{"table":"notes","key":"a\ud800\n","text":"x"}`, "lone UTF-16 surrogate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v0 := e.Version()
			_, err := e.Mutate(t.Context(), "put", json.RawMessage(tc.input))
			if backend.KindOf(err) != backend.ErrInvalidInput || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (kind %v), want invalid input saying %q", err, backend.KindOf(err), tc.want)
			}
			if len(err.Error()) > 400 {
				t.Errorf("the error echoes the input: %d bytes", len(err.Error()))
			}
			if e.Version() != v0 {
				t.Error("version moved")
			}
		})
	}
	// A surrogate pair is one valid character, and \\ud800 is not an escape.
	if _, err := e.Mutate(t.Context(), "put", json.RawMessage(`{"table":"notes","key":"\ud83d\ude00 \\ud800","text":"x"}`)); err != nil {
		t.Errorf("a valid surrogate pair was refused: %v", err)
	}
	if _, _, _, err := e.Get(t.Context(), "notes", "a\xffb"); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("Get of an invalid UTF-8 key: %v", err)
	}
	if _, _, _, err := e.Get(t.Context(), "notes", long); backend.KindOf(err) != backend.ErrInvalidInput || strings.Contains(err.Error(), long[:100]) {
		t.Errorf("Get of a long key: %v", err)
	}
	if _, _, _, err := e.Scan(t.Context(), "notes", backend.ScanOptions{Prefix: "\xfe"}); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("Scan with an invalid UTF-8 prefix: %v", err)
	}
	if _, _, _, err := e.Scan(t.Context(), "notes", backend.ScanOptions{After: long}); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("Scan with a long cursor: %v", err)
	}
	if _, err := e.Subscribe(t.Context(), backend.Filter{Table: "notes", Key: "a\xffb"}, 0); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("Subscribe to an invalid UTF-8 key: %v", err)
	}
	for what, err := range map[string]error{
		"Mutate":           func() error { _, err := e.Mutate(t.Context(), long, nil); return err }(),
		"Act":              func() error { _, err := e.Act(t.Context(), long, nil); return err }(),
		"Get":              func() error { _, _, _, err := e.Get(t.Context(), long, "k"); return err }(),
		"Mutate with Once": func() error { _, err := e.Mutate(t.Context(), long, nil, backend.Once("c", 1)); return err }(),
	} {
		if backend.KindOf(err) != backend.ErrUnknown || len(err.Error()) > 200 {
			t.Errorf("%s of a 2000-byte name: %.300v", what, err)
		}
	}
	if _, err := e.Mutate(t.Context(), "put", mustJSON(PutIn{Table: "notes", Key: "k", Text: "x"}), backend.Once(long, 1)); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("a push with a 2000-byte client id: %v", err)
	}
	if _, err := e.ChangesSince(t.Context(), backend.Filter{Table: "notes", Prefix: long}, 0, 10); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("ChangesSince with a long prefix: %v", err)
	}
}
