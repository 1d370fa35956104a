package backend_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

type failedBy struct {
	By string `json:"by"`
}

type failIn struct {
	ID string `json:"id"`
}

var (
	failedRows  = schema.Table[failedBy]("failedRows")
	failEnqueue = schema.Mutator[failIn]("failEnqueue", "enqueues failJob")
	failJob     = schema.Action[failIn, string]("failJob", "always fails")
	failApp     = schema.MustDefine(1, failedRows, failEnqueue, failJob)
)

// TestFailureHandlerRunsAsTheRunsCaller: an action's failure handler sees
// the caller who enqueued the run, as the action itself does, so what it
// writes is done in that caller's name.
func TestFailureHandlerRunsAsTheRunsCaller(t *testing.T) {
	cfg := backend.Config{
		Schema: failApp,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(failEnqueue, func(ctx *backend.MutatorCtx, in failIn) error {
				_, err := backend.Enqueue(ctx, failJob, in)
				return err
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(failJob, func(*backend.ActionCtx, failIn) (string, error) {
				return "", errors.New("the job fails")
			}, backend.OnFailure(func(ctx *backend.MutatorCtx, in failIn, _ backend.RunFailure) error {
				id, ok := backend.IdentityFrom(ctx)
				if !ok {
					id.Subject = "(no caller)"
				}
				return backend.TableOf(ctx, failedRows).Set(in.ID, failedBy{By: id.Subject})
			})),
		},
	}
	eng := open(t, cfg, filepath.Join(t.TempDir(), "failure.db"))
	fay := backend.WithIdentity(context.Background(), backend.Identity{Subject: "fay", ClientID: "app"})
	m, err := eng.Mutate(fay, "failEnqueue", []byte(`{"id":"f"}`))
	if err != nil || len(m.Runs) != 1 {
		t.Fatalf("failEnqueue: %+v, %v", m, err)
	}
	var row []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var ok bool
		if row, ok, _, err = eng.Get(context.Background(), "failedRows", "f"); err != nil {
			t.Fatal(err)
		} else if ok {
			break
		}
	}
	if string(row) != `{"by":"fay"}` {
		t.Errorf("the failure handler wrote %q; want it to run as fay, who enqueued the run", row)
	}
}
