package backend_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// TestDamagedRowInAMutatorIsDamaged: a mutator that fails because a row it
// read is damaged reports ErrDamaged (kind "damaged" for MCP clients, naming
// the row), not a handler failure of its own.
func TestDamagedRowInAMutatorIsDamaged(t *testing.T) {
	const marker = "victim-text-in-a-mutator-0123"
	var (
		rows  = schema.Table[Note]("rows")
		write = schema.Mutator[PutIn]("write", "Write a row")
		touch = schema.Mutator[PutIn]("touch", "Read a row and write it back")
		sch   = schema.MustDefine(1, rows, write, touch)
	)
	cfg := backend.Config{Schema: sch, Mutators: []backend.MutatorImpl{
		backend.Mutator(write, func(ctx *backend.MutatorCtx, in PutIn) error {
			return backend.TableOf(ctx, rows).Set(in.Key, Note{ID: in.Key, Text: in.Text})
		}),
		backend.Mutator(touch, func(ctx *backend.MutatorCtx, in PutIn) error {
			n, _, err := backend.TableOf(ctx, rows).Get(in.Key)
			if err != nil {
				return err
			}
			return backend.TableOf(ctx, rows).Set(in.Key, n)
		}),
	}}
	path := filepath.Join(t.TempDir(), "m.db")
	e := open(t, cfg, path)
	if _, err := e.Mutate(context.Background(), "write", mustJSON(PutIn{Key: "victim", Text: marker})); err != nil {
		t.Fatal(err)
	}
	e.Close()
	damageRow(t, path, marker)
	e = open(t, cfg, path, func(o *backend.Options) { o.AllowDamagedRows = true })
	_, err := e.Mutate(context.Background(), "touch", mustJSON(PutIn{Key: "victim"}))
	if backend.KindOf(err) != backend.ErrDamaged {
		t.Fatalf("touch of a damaged row: kind %v, err %v; want ErrDamaged", backend.KindOf(err), err)
	}
	if !strings.Contains(err.Error(), `"victim"`) || !strings.Contains(err.Error(), "mutator touch") {
		t.Errorf("the error does not name the mutator and the row: %v", err)
	}
}
