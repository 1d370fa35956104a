package backend_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
)

// TestRebaseRunsEachPendingAsOneStep: in a replica engine, a rebase sets the
// base rows and runs the pending mutations again in one commit; one that
// fails (its handler, invalid input, an unknown name) leaves nothing and the
// others commit. Written names what the pending ones wrote.
func TestRebaseRunsEachPendingAsOneStep(t *testing.T) {
	app := &testApp{started: make(chan string, 16)}
	e := open(t, app.config(), filepath.Join(t.TempDir(), "replica.db"), func(o *backend.Options) { o.Replica = true })
	if _, err := e.Mutate(t.Context(), "putItem", mustJSON(Item{ID: "z", Name: "local"})); err != nil {
		t.Fatal(err)
	}
	before := e.Version()
	base := []backend.Change{
		{Table: "items", Key: "z", Op: backend.OpDelete},
		{Table: "items", Key: "y", Op: backend.OpPut, Value: mustJSON(Item{ID: "y", Name: "server"})},
	}
	res, err := e.Rebase(t.Context(), base, []backend.PendingMutation{
		{Mutator: "putPair", Input: mustJSON(PairIn{A: "a", B: "b"})},
		{Mutator: "putPair", Input: mustJSON(PairIn{A: "c", B: "d", Fail: true})},
		{Mutator: "putItem", Input: mustJSON(map[string]any{"id": "e", "name": ""})},
		{Mutator: "nosuch", Input: mustJSON(map[string]any{})},
	})
	if err != nil || res.Version != before+1 || e.Version() != before+1 {
		t.Fatalf("Rebase = %+v, %v; want version %d", res, err, before+1)
	}
	f := res.Failed
	if len(f) != 4 || f[0] != nil || !errors.Is(f[1], backend.ErrHandler) || !errors.Is(f[2], backend.ErrInvalidInput) || !errors.Is(f[3], backend.ErrUnknown) {
		t.Errorf("step errors = %v; want nil, a handler error, invalid input, unknown", f)
	}
	var written []string
	for _, c := range res.Written {
		written = append(written, c.Table+"/"+c.Key)
	}
	if strings.Join(written, ",") != "items/a,items/b" {
		t.Errorf("Written = %v, want items/a, items/b: what the step that succeeded wrote", written)
	}
	rows, _, _, err := e.Scan(t.Context(), "items", backend.ScanOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.Key)
	}
	if strings.Join(keys, ",") != "a,b,y" {
		t.Errorf("rows %v, want a,b,y: the base (z deleted, y set) and the step that succeeded", keys)
	}
}

// TestRebaseRefuses: a server engine refuses a rebase (its data is no copy,
// and it could not dispatch what a mutator enqueues), and a replica refuses
// base rows of an undeclared table; neither writes anything.
func TestRebaseRefuses(t *testing.T) {
	server, _ := newEngine(t)
	before := server.Version()
	_, err := server.Rebase(t.Context(), nil, []backend.PendingMutation{{Mutator: "putPair", Input: mustJSON(PairIn{A: "a", B: "b"})}})
	if err == nil || !strings.Contains(err.Error(), "replica engines") || server.Version() != before {
		t.Errorf("Rebase on a server engine: %v (version %d → %d), want a refusal", err, before, server.Version())
	}

	app := &testApp{}
	replica := open(t, app.config(), filepath.Join(t.TempDir(), "replica.db"), func(o *backend.Options) { o.Replica = true })
	before = replica.Version()
	_, err = replica.Rebase(t.Context(), []backend.Change{{Table: "nosuch", Key: "api", Op: backend.OpPut, Value: []byte(`{"value":"x"}`)}}, nil)
	if backend.KindOf(err) != backend.ErrUnknown || replica.Version() != before {
		t.Errorf("Rebase with a base row of an undeclared table: %v, want ErrUnknown and nothing written", err)
	}
}
