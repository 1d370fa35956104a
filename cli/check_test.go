package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/schema"
)

type oldThing struct {
	ID string `json:"id"`
}

// newThing adds a required field with a default: every read fills it in.
type newThing struct {
	ID   string `json:"id"`
	Size string `json:"size" jsonschema:"enum=s,enum=m,default=m"`
}

// TestCheckAppliesDefaults: a row written before a required field with a
// default existed passes check, as every read fills the field in.
func TestCheckAppliesDefaults(t *testing.T) {
	data := filepath.Join(t.TempDir(), "things.db")
	oldTable := schema.Table[oldThing]("things")
	put := schema.Mutator[oldThing]("put", "Put a thing")
	eng, err := backend.Open(backend.Config{Schema: schema.MustDefine(1, oldTable, put),
		Mutators: []backend.MutatorImpl{backend.Mutator(put, func(ctx *backend.MutatorCtx, in oldThing) error {
			return backend.TableOf(ctx, oldTable).Set(in.ID, in)
		})}}, backend.Options{Path: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Mutate(t.Context(), "put", json.RawMessage(`{"id":"old"}`)); err != nil {
		t.Fatal(err)
	}
	eng.Close()

	newSchema := schema.MustDefine(2, schema.Table[newThing]("things"))
	check := func() (int, string) {
		var out, errb bytes.Buffer
		env := &cli.Environ{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		code := cli.Check(context.Background(), env, "things", []cli.App{{Name: "things", Schema: newSchema}}, []string{"--data", data})
		return code, out.String() + errb.String()
	}
	if code, out := check(); code != cli.ExitOK {
		t.Errorf("a row missing a defaulted field: exit %d\n%s", code, out)
	}
}
