package backend_test

import (
	"encoding/json"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// An app whose rows and inputs have nil-able slices and maps and declared
// defaults, and an older version of it whose rows lack some fields.
type NoteMeta struct {
	Lang string   `json:"lang" jsonschema:"default=en"`
	Refs []string `json:"refs"`
}

type NoteRow struct {
	ID       string            `json:"id"`
	Text     string            `json:"text"`
	Tags     []string          `json:"tags"`
	Attrs    map[string]string `json:"attrs"`
	Meta     NoteMeta          `json:"meta"`
	Priority int               `json:"priority" jsonschema:"default=2"`
}

type NoteIn struct {
	ID   string   `json:"id"`
	Tags []string `json:"tags"`
	Note string   `json:"note" jsonschema:"default=none"`
}

type NoteOut struct {
	Note string         `json:"note"`
	Tags []string       `json:"tags"`
	Seen map[string]int `json:"seen"`
}

type NoteIDIn struct {
	ID string `json:"id"`
}

type OldNote struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

var (
	notesTable = schema.Table[NoteRow]("notes")
	saveNote   = schema.Mutator[NoteRow]("saveNote", "Save a note")
	addNote    = schema.Mutator[NoteIn]("addNote", "Add a note from its input, and enqueue tagNote")
	tagNote    = schema.Action[NoteIn, NoteOut]("tagNote", "Write a sibling note through saveNote")
	readNote   = schema.Action[NoteIDIn, NoteRow]("readNote", "Read a note, typed")
	notesApp   = schema.MustDefine(1, notesTable, saveNote, addNote, tagNote, readNote)

	oldNotes   = schema.Table[OldNote]("notes")
	saveOld    = schema.Mutator[OldNote]("saveOld", "Save a note as the old version did")
	oldNoteApp = schema.MustDefine(1, oldNotes, saveOld)
)

func notesConfig() backend.Config {
	return backend.Config{
		Schema: notesApp,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(saveNote, func(ctx *backend.MutatorCtx, in NoteRow) error {
				return backend.TableOf(ctx, notesTable).Set(in.ID, in)
			}),
			backend.Mutator(addNote, func(ctx *backend.MutatorCtx, in NoteIn) error {
				// Nil Tags, Attrs and Meta.Refs: stored as [] and {}.
				if err := backend.TableOf(ctx, notesTable).Set(in.ID, NoteRow{ID: in.ID, Text: in.Note}); err != nil {
					return err
				}
				// Nil Tags. Note is "": a Go value has every field, so no default applies.
				_, err := ctx.EnqueueAction(tagNote.Name(), NoteIn{ID: in.ID})
				return err
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(tagNote, func(ctx *backend.ActionCtx, in NoteIn) (NoteOut, error) {
				if err := ctx.Mutate(saveNote.Name(), NoteRow{ID: in.ID + "-tagged", Text: in.Note}); err != nil {
					return NoteOut{}, err
				}
				return NoteOut{Note: in.Note}, nil // nil Tags and Seen
			}),
			backend.Action(readNote, func(ctx *backend.ActionCtx, in NoteIDIn) (NoteRow, error) {
				n, _, err := backend.TableOf(ctx, notesTable).Get(in.ID)
				return n, err
			}),
		},
	}
}

func oldNotesConfig() backend.Config {
	return backend.Config{Schema: oldNoteApp, Mutators: []backend.MutatorImpl{
		backend.Mutator(saveOld, func(ctx *backend.MutatorCtx, in OldNote) error {
			return backend.TableOf(ctx, oldNotes).Set(in.ID, in)
		}),
	}}
}

func getNote(t *testing.T, e *backend.Engine, key string) map[string]any {
	t.Helper()
	raw, ok, _, err := e.Get(t.Context(), "notes", key)
	if err != nil || !ok {
		t.Fatalf("get note %s: found %v, %v", key, ok, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNilSlicesAndMapsAreStoredEmptyAndInputDefaultsApply(t *testing.T) {
	e := open(t, notesConfig(), filepath.Join(t.TempDir(), "notes.db"))
	// No "note" (required, default "none"): filled in before validation.
	m, err := e.Mutate(t.Context(), addNote.Name(), json.RawMessage(`{"id":"n1","tags":[]}`))
	if err != nil {
		t.Fatalf("a mutator writing a row with nil slices and maps: %v", err)
	}
	want := map[string]any{"id": "n1", "text": "none", "tags": []any{}, "attrs": map[string]any{},
		"meta": map[string]any{"lang": "", "refs": []any{}}, "priority": 0.0}
	if got := getNote(t, e, "n1"); !reflect.DeepEqual(got, want) {
		t.Errorf("stored row = %v\nwant %v", got, want)
	}
	// The enqueued run's input had a nil slice; its ctx.Mutate wrote a row
	// with nil slices and maps; its output had nil ones too.
	if len(m.Runs) != 1 {
		t.Fatalf("runs = %v", m.Runs)
	}
	run := waitRun(t, e, m.Runs[0])
	if run.Status != backend.RunSucceeded {
		t.Fatalf("run = %+v", run)
	}
	if string(run.Input) != `{"id":"n1","tags":[],"note":""}` || string(run.Output) != `{"note":"","tags":[],"seen":{}}` {
		t.Errorf("run input %s, output %s", run.Input, run.Output)
	}
	if got := getNote(t, e, "n1-tagged"); !reflect.DeepEqual(got["tags"], []any{}) || !reflect.DeepEqual(got["attrs"], map[string]any{}) {
		t.Errorf("row written by the action = %v", got)
	}
	// A direct call of the action, without the defaulted field.
	out, err := e.Act(t.Context(), tagNote.Name(), json.RawMessage(`{"id":"n2","tags":["x"]}`))
	if err != nil || string(out) != `{"note":"none","tags":[],"seen":{}}` {
		t.Errorf("Act = %s, %v", out, err)
	}
	// A null sent as JSON is still the sender's mistake.
	if _, err := e.Mutate(t.Context(), saveNote.Name(), json.RawMessage(`{"id":"x","text":"","tags":null,"attrs":{},"meta":{"lang":"","refs":[]},"priority":1}`)); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("a null array in JSON input: %v, want invalid input", err)
	}
}

func TestDefaultsFillRowsWrittenBeforeTheFieldExisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.db")
	old, err := backend.Open(oldNotesConfig(), backend.Options{Path: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := old.Mutate(t.Context(), saveOld.Name(), json.RawMessage(`{"id":"`+id+`","text":"old"}`)); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	e := open(t, notesConfig(), path)
	// The raw client read: priority and meta.lang filled, tags (no default) still missing.
	want := map[string]any{"id": "a", "text": "old", "priority": 2.0, "meta": map[string]any{"lang": "en"}}
	if got := getNote(t, e, "a"); !reflect.DeepEqual(got, want) {
		t.Errorf("get_row of an old row = %v\nwant %v", got, want)
	}
	rows, _, _, err := e.Scan(t.Context(), "notes", backend.ScanOptions{})
	if err != nil || len(rows) != 2 {
		t.Fatalf("scan: %d rows, %v", len(rows), err)
	}
	for _, r := range rows {
		var n NoteRow
		if err := json.Unmarshal(r.Value, &n); err != nil || n.Priority != 2 || n.Meta.Lang != "en" {
			t.Errorf("scanned row %s = %s (%v)", r.Key, r.Value, err)
		}
	}
	// The typed read in server code.
	out, err := e.Act(t.Context(), readNote.Name(), json.RawMessage(`{"id":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	var n NoteRow
	if err := json.Unmarshal(out, &n); err != nil || n.Priority != 2 || n.Meta.Lang != "en" || n.Text != "old" {
		t.Errorf("typed read of an old row = %s (%v)", out, err)
	}
}
