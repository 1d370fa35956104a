package backend_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// BadOut is an action output whose encoding panics: the app's own code,
// run by the engine after the handler returned.
type BadOut struct{ Text string }

func (BadOut) MarshalJSON() ([]byte, error) { panic("secret-in-marshal sk-999") }

type BadIn struct {
	ID string `json:"id"`
}

// TestOutputEncodingPanicIsRecovered: a panic while encoding an action's
// output reaches a direct caller as an internal error with a reference (not
// a panic through Act), and an enqueued run of the action ends failed with
// the worker still alive, rather than the panic ending the process.
func TestOutputEncodingPanicIsRecovered(t *testing.T) {
	var (
		badAct = schema.Action[BadIn, BadOut]("bad", "An action whose output cannot be encoded")
		enq    = schema.Mutator[BadIn]("enqueueBad", "Enqueue bad")
		sch    = schema.MustDefine(1, badAct, enq)
	)
	cfg := backend.Config{
		Schema: sch,
		Mutators: []backend.MutatorImpl{backend.Mutator(enq, func(ctx *backend.MutatorCtx, in BadIn) error {
			_, err := ctx.EnqueueAction("bad", in)
			return err
		})},
		Actions: []backend.ActionImpl{backend.Action(badAct, func(*backend.ActionCtx, BadIn) (BadOut, error) {
			return BadOut{Text: "x"}, nil
		})},
	}
	e := open(t, cfg, filepath.Join(t.TempDir(), "p.db"))

	_, err := e.Act(t.Context(), "bad", mustJSON(BadIn{ID: "direct"}))
	if backend.KindOf(err) != backend.ErrInternal {
		t.Fatalf("direct call: err %v (kind %v), want an internal error", err, backend.KindOf(err))
	}
	if strings.Contains(err.Error(), "sk-999") {
		t.Errorf("the panic's text reached the caller: %v", err)
	}

	for i := range 2 { // the second run needs a worker that survived the first
		m, err := e.Mutate(t.Context(), "enqueueBad", mustJSON(BadIn{ID: "run"}))
		runs := m.Runs
		if err != nil || len(runs) != 1 {
			t.Fatalf("enqueue %d: runs %v, err %v", i, runs, err)
		}
		if run := waitRun(t, e, runs[0]); run.Status != backend.RunFailed || !strings.Contains(run.Error, "internal error (ref ") {
			t.Errorf("run %d: %+v, want failed with an internal error's reference", i, run)
		}
	}
}
