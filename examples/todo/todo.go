// Package todo is the seed's todo app in Go: a todos table, mutators to set,
// delete, and create-and-generate a todo, and the generateWithAI action that
// streams an AI answer into the todo row chunk by chunk. The AI key may live
// in the server-only secrets table, written by the internal setSecret
// mutator (never a tool) and read by the provider's key function, [AIKey].
//
// It serves as the example of the API, as the app behind `mcp-sync demo`, and
// as the fixture of the backend and MCP tests.
package todo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/schema"
)

// Todo is one row of the todos table.
type Todo struct {
	ID        string `json:"id" jsonschema:"description=Unique id of the todo, chosen by the caller,minLength=1"`
	Text      string `json:"text" jsonschema:"description=What to do"`
	Completed bool   `json:"completed" jsonschema:"description=Whether it is done"`
	Status    string `json:"status,omitempty" jsonschema:"description=ready once the text is final; generating while AI writes it; error if generation failed,enum=ready,enum=generating,enum=error"`
	Error     string `json:"error,omitempty" jsonschema:"description=why generation failed for good (with status error),maxLength=500"`
}

// The todo statuses.
const (
	StatusReady      = "ready"
	StatusGenerating = "generating"
	StatusError      = "error"
)

// DeleteInput names the todo to delete.
type DeleteInput struct {
	ID string `json:"id" jsonschema:"description=Id of the todo to delete,minLength=1"`
}

// GenerateInput asks for a todo's text to be written by AI from a prompt.
type GenerateInput struct {
	ID     string `json:"id" jsonschema:"description=Id of the todo to write,minLength=1"`
	Prompt string `json:"prompt" jsonschema:"description=What the todo should be about,minLength=1"`
}

// GenerateOutput is the text AI wrote.
type GenerateOutput struct {
	Text string `json:"text" jsonschema:"description=The generated todo text"`
}

// Secret is a row of the server-only secrets table (for example the AI API
// key under the key [AIKeySecret]).
type Secret struct {
	Value string `json:"value"`
}

// SecretInput is the input of setSecret: which secret, and its value.
type SecretInput struct {
	Key   string `json:"key" jsonschema:"minLength=1"`
	Value string `json:"value"`
}

// AIKeySecret is the key of the secrets row holding the AI API key.
const AIKeySecret = "openai"

// The declarations. They are immutable values, used as typed handles.
var (
	Todos   = schema.Table[Todo]("todos", schema.Description("The todo list"))
	Secrets = schema.Table[Secret]("secrets", schema.ServerOnly())

	SetTodo    = schema.Mutator[Todo]("setTodo", "Create or replace a todo", schema.Idempotent())
	DeleteTodo = schema.Mutator[DeleteInput]("deleteTodo", "Delete a todo",
		schema.Idempotent(), schema.Destructive())
	CreateAndGenerate = schema.Mutator[GenerateInput]("createAndGenerate",
		"Create a todo and have AI write its text from a prompt; the text streams into the todo (status generating, then ready)")
	Generate = schema.Action[GenerateInput, GenerateOutput]("generateWithAI",
		"Generate a todo's text from a prompt using AI, streaming it into the todo as it is written")
	// SetSecret writes the secrets table. It is internal: server code calls
	// it (eng.Mutate), no MCP client ever sees or calls it.
	SetSecret = schema.Mutator[SecretInput]("setSecret", "Store a secret", schema.Internal())

	Schema = schema.MustDefine(1, Todos, Secrets, SetTodo, DeleteTodo, CreateAndGenerate, Generate, SetSecret)
)

// KeyPlatformFunc is the platform function that returns the AI API key.
const KeyPlatformFunc = "aiKey"

// Config returns the todo app's backend. provider streams the AI text; nil
// leaves generateWithAI failing with a clear error. getenv (os.Getenv when
// nil) backs the aiKey platform function.
func Config(provider ai.Provider, getenv func(string) string) backend.Config {
	if getenv == nil {
		getenv = os.Getenv
	}
	return backend.Config{
		Schema: Schema,
		AI:     provider,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(SetTodo, func(ctx *backend.MutatorCtx, in Todo) error {
				return backend.TableOf(ctx, Todos).Set(in.ID, in)
			}),
			backend.Mutator(DeleteTodo, func(ctx *backend.MutatorCtx, in DeleteInput) error {
				return backend.TableOf(ctx, Todos).Delete(in.ID)
			}),
			backend.Mutator(CreateAndGenerate, createAndGenerate),
			backend.Mutator(SetSecret, func(ctx *backend.MutatorCtx, in SecretInput) error {
				return backend.TableOf(ctx, Secrets).Set(in.Key, Secret{Value: in.Value})
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(Generate, generate, backend.OnFailure(generateFailed)),
		},
		Platform: map[string]backend.PlatformFunc{
			KeyPlatformFunc: func(context.Context, json.RawMessage) (json.RawMessage, error) {
				return json.Marshal(getenv("OPENAI_API_KEY"))
			},
		},
	}
}

// AIKey is the AI provider's key function (ai.Config.KeyFunc): the key
// stored in the secrets table under [AIKeySecret], or "" when none is, which
// makes the provider fall back to its Config.APIKey (OPENAI_API_KEY). ctx
// is the one generateWithAI passes to the provider, through which the
// server-only table is readable.
func AIKey(ctx context.Context) (string, error) {
	secrets, err := backend.TableFrom(ctx, Secrets)
	if err != nil {
		return "", err
	}
	s, _, err := secrets.Get(AIKeySecret)
	return s.Value, err
}

// AIConfig is the AI provider configuration from the environment
// (ai.ConfigFromEnv), with [AIKey] as its key function: a key in the
// secrets table wins over OPENAI_API_KEY.
func AIConfig(getenv func(string) string) ai.Config {
	cfg := ai.ConfigFromEnv(getenv)
	cfg.KeyFunc = AIKey
	return cfg
}

func createAndGenerate(ctx *backend.MutatorCtx, in GenerateInput) error {
	todos := backend.TableOf(ctx, Todos)
	if _, exists, err := todos.Get(in.ID); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("a todo with id %q already exists: choose another id", in.ID)
	}
	if err := todos.Set(in.ID, Todo{ID: in.ID, Status: StatusGenerating}); err != nil {
		return err
	}
	_, err := backend.Enqueue(ctx, Generate, in)
	return err
}

// generate streams the AI answer into the todo: one setTodo per chunk, so
// subscribers watch the text grow, then one with status ready. On a failure
// (of the stream, or of a write, the last included) the todo gets status
// error; a direct call gives it back the text it had, or the text received
// so far if it had none; an enqueued run keeps the text its attempt received.
// A crash mid-stream leaves the todo "generating" with the partial text.
func generate(ctx *backend.ActionCtx, in GenerateInput) (GenerateOutput, error) {
	current, _, err := backend.TableOf(ctx, Todos).Get(in.ID)
	if err != nil {
		return GenerateOutput{}, err
	}
	row := Todo{ID: in.ID, Completed: current.Completed, Status: StatusGenerating}
	var text strings.Builder
	req := ai.Request{
		System: "You write one short, concrete todo item from the user's prompt. Answer with the todo text only.",
		Prompt: in.Prompt,
	}
	// On any failure the row gets status error, even if the caller has gone
	// (a cancelled call): it must not stay "generating" forever. A direct
	// call must not cost the todo the text it had: that text comes back
	// (the text received so far only if it had none). An enqueued run
	// writes a todo createAndGenerate made blank, or holds an earlier
	// attempt's partial text: the text this attempt received wins.
	fail := func(err error) (GenerateOutput, error) {
		row.Status = StatusError
		if ctx.RunID() != "" {
			row.Text = cmp.Or(text.String(), current.Text)
		} else {
			row.Text = cmp.Or(current.Text, text.String())
		}
		if merr := backend.Mutate(ctx.Detached(), SetTodo, row); merr != nil {
			err = errors.Join(err, merr)
		}
		return GenerateOutput{}, err
	}
	for chunk, err := range ctx.AI().Stream(ctx, req) {
		if err != nil {
			return fail(err)
		}
		text.WriteString(chunk)
		row.Text = text.String()
		if err := backend.Mutate(ctx, SetTodo, row); err != nil {
			return fail(err)
		}
	}
	row.Status = StatusReady
	if err := backend.Mutate(ctx, SetTodo, row); err != nil {
		return fail(err)
	}
	return GenerateOutput{Text: row.Text}, nil
}

// generateFailed is generateWithAI's failure handler: an enqueued run that
// failed for good (its last error, its attempts used up, or interrupted by
// stops too often) leaves its todo with status error and the reason, so no
// todo stays "generating". A todo deleted meanwhile stays deleted.
func generateFailed(ctx *backend.MutatorCtx, in GenerateInput, f backend.RunFailure) error {
	todos := backend.TableOf(ctx, Todos)
	row, ok, err := todos.Get(in.ID)
	if err != nil || !ok {
		return err
	}
	row.Status, row.Error = StatusError, f.Error
	if len(row.Error) > maxErrorLen {
		cut := maxErrorLen
		for cut > 0 && !utf8.RuneStart(row.Error[cut]) {
			cut--
		}
		row.Error = row.Error[:cut] + "…"
	}
	return todos.Set(in.ID, row)
}

// maxErrorLen bounds the reason stored in a todo (in bytes, before "…"),
// within the schema's maxLength of 500 characters.
const maxErrorLen = 400
