// Package notes is the second example app: notes with tags, a time, a
// nested author and an enum priority; saveNote, deleteNote and addTag as
// tools; and summarize, an action that streams an AI summary into the note
// through the internal mutator setSummary (never a tool). The AI key may
// live in the server-only secrets table, written by the internal setSecret
// mutator and read by the provider's key function (todo.AIKey).
package notes

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
)

// Note is one row of the notes table.
type Note struct {
	ID       string    `json:"id" jsonschema:"description=Unique id of the note, chosen by the caller,minLength=1"`
	Title    string    `json:"title" jsonschema:"description=The note's title"`
	Body     string    `json:"body" jsonschema:"description=The note's text"`
	Tags     []string  `json:"tags" jsonschema:"description=Labels of the note"`
	Priority string    `json:"priority" jsonschema:"description=How much the note matters,enum=low,enum=normal,enum=high,default=normal"`
	Author   Author    `json:"author" jsonschema:"description=Who wrote the note"`
	Updated  time.Time `json:"updated" jsonschema:"description=When the note was last saved (set by the server)"`
	Summary  string    `json:"summary,omitempty" jsonschema:"description=An AI summary of the note, written by summarize"`
	// SummaryStatus is "" before any summary, then writing, done or error.
	SummaryStatus string `json:"summaryStatus,omitempty" jsonschema:"description=Where the summary stands,enum=writing,enum=done,enum=error"`
}

// Author is who wrote a note.
type Author struct {
	Name  string `json:"name" jsonschema:"description=The author's name"`
	Email string `json:"email,omitempty" jsonschema:"description=The author's email address"`
}

// The summary statuses.
const (
	SummaryWriting = "writing"
	SummaryDone    = "done"
	SummaryError   = "error"
)

// NoteInput is saveNote's input: a note without the fields the server keeps.
type NoteInput struct {
	ID       string   `json:"id" jsonschema:"description=Unique id of the note, chosen by the caller,minLength=1"`
	Title    string   `json:"title" jsonschema:"description=The note's title"`
	Body     string   `json:"body" jsonschema:"description=The note's text"`
	Tags     []string `json:"tags" jsonschema:"description=Labels of the note"`
	Priority string   `json:"priority,omitempty" jsonschema:"description=How much the note matters,enum=low,enum=normal,enum=high,default=normal"`
	Author   Author   `json:"author" jsonschema:"description=Who wrote the note"`
}

// IDInput names a note.
type IDInput struct {
	ID string `json:"id" jsonschema:"description=Id of the note,minLength=1"`
}

// TagInput is addTag's input.
type TagInput struct {
	ID  string `json:"id" jsonschema:"description=Id of the note,minLength=1"`
	Tag string `json:"tag" jsonschema:"description=The tag to add,minLength=1"`
}

// SummaryInput is setSummary's input: a note's summary so far and its status.
type SummaryInput struct {
	ID      string `json:"id" jsonschema:"minLength=1"`
	Summary string `json:"summary"`
	Status  string `json:"status" jsonschema:"enum=writing,enum=done,enum=error"`
}

// SummaryOutput is summarize's result.
type SummaryOutput struct {
	Summary string `json:"summary" jsonschema:"description=The summary written"`
}

// The declarations, used as typed handles.
var (
	Notes = schema.Table[Note]("notes", schema.Description("Notes with tags and AI summaries"))
	// Secrets and its internal writer setSecret are the todo app's
	// declarations: any app that keeps its AI key there can share them.
	Secrets = todo.Secrets

	SaveNote   = schema.Mutator[NoteInput]("saveNote", "Create or replace a note (its summary is kept)", schema.Idempotent())
	DeleteNote = schema.Mutator[IDInput]("deleteNote", "Delete a note", schema.Idempotent(), schema.Destructive())
	AddTag     = schema.Mutator[TagInput]("addTag",
		"Add a tag to a note; then AI rewrites the note's summary, streaming it into the note")
	SetSummary = schema.Mutator[SummaryInput]("setSummary", "internal: write a note's summary", schema.Internal())
	SetSecret  = todo.SetSecret
	Summarize  = schema.Action[IDInput, SummaryOutput]("summarize",
		"Summarize a note with AI, streaming the summary into the note as it is written")

	Schema = schema.MustDefine(1, Notes, Secrets, SaveNote, DeleteNote, AddTag, SetSummary, SetSecret, Summarize)
)

// ServerOptions are the notes server's MCP name and instructions.
func ServerOptions() tools.Options {
	return tools.Options{Name: "notes",
		Instructions: "Notes kept in a transactional store. saveNote writes a note, addTag tags it and has AI rewrite its summary (it streams into the note: follow it with get_row), list_rows/get_row read."}
}

// Config returns the notes app's backend; provider streams summaries (nil
// leaves summarize failing with a clear error).
func Config(provider ai.Provider) backend.Config {
	return backend.Config{
		Schema: Schema,
		AI:     provider,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(SaveNote, saveNote),
			backend.Mutator(DeleteNote, func(ctx *backend.MutatorCtx, in IDInput) error {
				return backend.TableOf(ctx, Notes).Delete(in.ID)
			}),
			backend.Mutator(AddTag, addTag),
			backend.Mutator(SetSummary, setSummary),
			backend.Mutator(SetSecret, func(ctx *backend.MutatorCtx, in todo.SecretInput) error {
				return backend.TableOf(ctx, Secrets).Set(in.Key, todo.Secret{Value: in.Value})
			}),
		},
		Actions: []backend.ActionImpl{backend.Action(Summarize, summarize)},
	}
}

// Setup is the notes binary's cli.WithSetup: the backend with an OpenAI-
// compatible provider configured by OPENAI_BASE_URL, OPENAI_MODEL and the
// key todo.AIKey finds in the secrets table under todo.AIKeySecret
// (OPENAI_API_KEY when it holds none).
func Setup(env *cli.Environ, _ time.Duration) (backend.Config, tools.Options, func(), error) {
	cfg := ai.ConfigFromEnv(env.Getenv)
	cfg.KeyFunc = todo.AIKey
	p, err := ai.NewOpenAI(cfg)
	if err != nil {
		return backend.Config{}, tools.Options{}, nil, err
	}
	return Config(p), ServerOptions(), func() {}, nil
}

// saveNote keeps the summary a note has: only summarize writes it.
func saveNote(ctx *backend.MutatorCtx, in NoteInput) error {
	notes := backend.TableOf(ctx, Notes)
	old, _, err := notes.Get(in.ID)
	if err != nil {
		return err
	}
	return notes.Set(in.ID, Note{ID: in.ID, Title: in.Title, Body: in.Body, Tags: in.Tags,
		Priority: in.Priority, Author: in.Author, Updated: time.Now().UTC(),
		Summary: old.Summary, SummaryStatus: old.SummaryStatus})
}

func addTag(ctx *backend.MutatorCtx, in TagInput) error {
	notes := backend.TableOf(ctx, Notes)
	n, ok, err := notes.Get(in.ID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no note with id %q: save it first with saveNote", in.ID)
	}
	if !slices.Contains(n.Tags, in.Tag) {
		n.Tags = append(n.Tags, in.Tag)
	}
	n.Updated, n.SummaryStatus = time.Now().UTC(), SummaryWriting
	if err := notes.Set(in.ID, n); err != nil {
		return err
	}
	_, err = backend.Enqueue(ctx, Summarize, IDInput{ID: in.ID})
	return err
}

// setSummary writes a note's summary; a note deleted meanwhile stays deleted.
func setSummary(ctx *backend.MutatorCtx, in SummaryInput) error {
	notes := backend.TableOf(ctx, Notes)
	n, ok, err := notes.Get(in.ID)
	if err != nil || !ok {
		return err
	}
	n.Summary, n.SummaryStatus = in.Summary, in.Status
	return notes.Set(in.ID, n)
}

// summarize streams the summary into the note, one setSummary per chunk, so
// a watcher sees it grow; on a failure the note keeps the text received so
// far with status error.
func summarize(ctx *backend.ActionCtx, in IDInput) (SummaryOutput, error) {
	n, ok, err := backend.TableOf(ctx, Notes).Get(in.ID)
	if err != nil {
		return SummaryOutput{}, err
	}
	if !ok {
		return SummaryOutput{}, fmt.Errorf("no note with id %q to summarize", in.ID)
	}
	req := ai.Request{
		System: "Summarize the user's note in one or two sentences. Answer with the summary only.",
		Prompt: fmt.Sprintf("Title: %s\nTags: %s\n\n%s", n.Title, strings.Join(n.Tags, ", "), n.Body),
	}
	var text strings.Builder
	for chunk, err := range ctx.AI().Stream(ctx, req) {
		if err != nil {
			werr := backend.Mutate(ctx.Detached(), SetSummary, SummaryInput{ID: in.ID, Summary: text.String(), Status: SummaryError})
			return SummaryOutput{}, errors.Join(err, werr)
		}
		text.WriteString(chunk)
		if err := backend.Mutate(ctx, SetSummary, SummaryInput{ID: in.ID, Summary: text.String(), Status: SummaryWriting}); err != nil {
			return SummaryOutput{}, err
		}
	}
	if err := backend.Mutate(ctx, SetSummary, SummaryInput{ID: in.ID, Summary: text.String(), Status: SummaryDone}); err != nil {
		return SummaryOutput{}, err
	}
	return SummaryOutput{Summary: text.String()}, nil
}
