package backend_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

type leakScore struct {
	Score float64 `json:"score"`
}

type leakOut struct {
	N int `json:"n"`
}

var (
	leakItems  = schema.Table[Item]("items")
	leakSetHid = schema.Mutator[leakScore]("setHiddenScore", "internal", schema.Internal())
	leakHidAct = schema.Action[leakScore, leakOut]("hiddenAct", "internal", schema.Internal())
	leakPubMut = schema.Mutator[KeyIn]("publicScore", "public; calls setHiddenScore as a step")
	leakPubAct = schema.Action[KeyIn, leakOut]("publicAct", "public; calls setHiddenScore or hiddenAct")
	leakSchema = schema.MustDefine(1, leakItems, leakSetHid, leakHidAct, leakPubMut, leakPubAct)
)

// TestInternalNameNotLeakedOnEncodeError: a public mutator or action whose
// call of an internal one fails before it runs (its input cannot be
// encoded) must not name the internal one in the error a client sees
// (the encode error used to carry the step's name).
func TestInternalNameNotLeakedOnEncodeError(t *testing.T) {
	nan := leakScore{Score: math.NaN()}
	cfg := backend.Config{Schema: leakSchema,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(leakSetHid, func(ctx *backend.MutatorCtx, in leakScore) error { return nil }),
			backend.Mutator(leakPubMut, func(ctx *backend.MutatorCtx, in KeyIn) error {
				return backend.Mutate(ctx, leakSetHid, nan)
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(leakHidAct, func(ctx *backend.ActionCtx, in leakScore) (leakOut, error) { return leakOut{}, nil }),
			backend.Action(leakPubAct, func(ctx *backend.ActionCtx, in KeyIn) (leakOut, error) {
				if in.Key == "mutate" {
					return leakOut{}, backend.Mutate(ctx, leakSetHid, nan)
				}
				return backend.Act(ctx, leakHidAct, nan)
			}),
		},
	}
	e := open(t, cfg, filepath.Join(t.TempDir(), "leak.db"))
	ctx := context.Background()
	_, errMut := e.Mutate(ctx, leakPubMut.Name(), mustJSON(KeyIn{Key: "k"}), backend.Once("c1", 1))
	_, errActMut := e.Act(ctx, leakPubAct.Name(), mustJSON(KeyIn{Key: "mutate"}))
	_, errAct := e.Act(ctx, leakPubAct.Name(), mustJSON(KeyIn{Key: "act"}))
	for what, err := range map[string]error{"mutator step": errMut, "action's Mutate": errActMut, "Act": errAct} {
		if err == nil {
			t.Errorf("%s: want an error for a NaN input", what)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, leakSetHid.Name()) || strings.Contains(msg, leakHidAct.Name()) {
			t.Errorf("%s: the error names the internal declaration: %v", what, err)
		}
		if !strings.Contains(err.Error(), "internal error (ref ") {
			t.Errorf("%s: want an internal error with a log reference: %v", what, err)
		}
	}
}
