package backend_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

var (
	ofGive = schema.Mutator[privSave]("giveNote", "write a note into the notes of the user named in key")
	ofApp  = schema.MustDefine(1, privNotes, ofGive)
)

// TestOfWithoutACaller: server code with no caller names the owner of the
// rows it means with Table.Of (as it may with WithOwner): the handle
// reaches that owner's rows, while the handle without Of is refused.
func TestOfWithoutACaller(t *testing.T) {
	cfg := backend.Config{Schema: ofApp, Mutators: []backend.MutatorImpl{
		backend.Mutator(ofGive, func(ctx *backend.MutatorCtx, in privSave) error {
			notes := backend.TableOf(ctx, privNotes)
			if err := notes.Set("x", privNote{Text: "nobody's"}); err == nil {
				t.Error("a private table's handle with no owner wrote a row")
			}
			return notes.Of(in.Key).Set("gift", privNote{Text: in.Text})
		}),
	}}
	e := open(t, cfg, filepath.Join(t.TempDir(), "of.db"))
	if _, err := e.Mutate(t.Context(), "giveNote", mustJSON(privSave{Key: "bob", Text: "for bob"})); err != nil {
		t.Fatalf("server code writing bob's row with Of: %v", err)
	}
	v, ok, _, err := e.Get(as("bob"), "notes", "gift")
	if err != nil || !ok || !strings.Contains(string(v), "for bob") {
		t.Fatalf("bob's gift = %s, %v, %v; want the note server code wrote", v, ok, err)
	}
}
