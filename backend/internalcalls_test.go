package backend_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// An app whose public mutators and actions reach internal ones, the way an
// app writes a server-only table without exposing a tool.
var (
	icItems     = schema.Table[Item]("items")
	icSecrets   = schema.Table[Secret]("secrets", schema.ServerOnly())
	icSetSecret = schema.Mutator[KeyIn]("setSecret", "Store a secret", schema.Internal())
	icRotate    = schema.Mutator[KeyIn]("rotate", "Rotate the secret, through setSecret")
	icLoop      = schema.Mutator[KeyIn]("loop", "Calls itself")
	icPutTwo    = schema.Mutator[PairIn]("putTwo", "Puts a; then b, as a step that may fail")
	icPutOne    = schema.Mutator[PairIn]("putOne", "Puts b, or fails after writing it", schema.Internal())
	icUpper     = schema.Action[EchoIn, EchoOut]("upper", "Upper-case, internally", schema.Internal())
	icShout     = schema.Action[EchoIn, EchoOut]("shout", "Calls upper, then stores the result as a secret")
	icEnqueue   = schema.Mutator[EchoIn]("enqueueUpper", "Enqueues upper, and note through enqueueNote")
	icEnqNote   = schema.Mutator[EchoIn]("enqueueNote", "Enqueues note", schema.Internal())
	icNote      = schema.Action[EchoIn, string]("note", "Returns its text")
	icPeek      = schema.Action[EchoIn, string]("peek", "Reads the secret as a key function would", schema.Internal())
	icSchema    = schema.MustDefine(1, icItems, icSecrets, icSetSecret, icRotate, icLoop, icPutTwo, icPutOne, icUpper, icShout,
		icEnqueue, icEnqNote, icNote, icPeek)
)

// icConfig is the app; enqueued runs of upper send their output to ran.
func icConfig(ran chan<- string) backend.Config {
	return backend.Config{
		Schema: icSchema,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(icSetSecret, func(ctx *backend.MutatorCtx, in KeyIn) error {
				if strings.HasPrefix(strings.ToLower(in.Key), "bad") {
					return errors.New("refusing a bad key")
				}
				return backend.TableOf(ctx, icSecrets).Set("api", Secret{Value: in.Key})
			}),
			backend.Mutator(icRotate, func(ctx *backend.MutatorCtx, in KeyIn) error {
				return backend.Mutate(ctx, icSetSecret, KeyIn{Key: in.Key + "-rotated"})
			}),
			backend.Mutator(icLoop, func(ctx *backend.MutatorCtx, in KeyIn) error {
				return backend.Mutate(ctx, icLoop, in)
			}),
			backend.Mutator(icPutTwo, func(ctx *backend.MutatorCtx, in PairIn) error {
				if err := backend.TableOf(ctx, icItems).Set(in.A, Item{ID: in.A, Name: "a"}); err != nil {
					return err
				}
				if err := backend.Mutate(ctx, icPutOne, in); err != nil && !in.Fail {
					return err
				}
				return nil // a failed step is dropped; the rest commits
			}),
			backend.Mutator(icPutOne, func(ctx *backend.MutatorCtx, in PairIn) error {
				if err := backend.TableOf(ctx, icItems).Set(in.B, Item{ID: in.B, Name: "b"}); err != nil {
					return err
				}
				if in.Fail {
					return errors.New("failing after the write")
				}
				return nil
			}),
			backend.Mutator(icEnqueue, func(ctx *backend.MutatorCtx, in EchoIn) error {
				if _, err := backend.Enqueue(ctx, icUpper, in); err != nil {
					return err
				}
				return backend.Mutate(ctx, icEnqNote, in)
			}),
			backend.Mutator(icEnqNote, func(ctx *backend.MutatorCtx, in EchoIn) error {
				_, err := backend.Enqueue(ctx, icNote, in)
				return err
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(icUpper, func(ctx *backend.ActionCtx, in EchoIn) (EchoOut, error) {
				if in.Mode == "fail" {
					return EchoOut{}, errors.New("refusing on purpose")
				}
				if ctx.RunID() != "" {
					ran <- strings.ToUpper(in.Text)
				}
				return EchoOut{Text: strings.ToUpper(in.Text)}, nil
			}),
			backend.Action(icNote, func(ctx *backend.ActionCtx, in EchoIn) (string, error) {
				return in.Text, nil
			}),
			backend.Action(icPeek, func(ctx *backend.ActionCtx, _ EchoIn) (string, error) {
				// What an AI provider hands its KeyFunc: a context derived
				// from the action's.
				derived, cancel := context.WithCancel(ctx)
				defer cancel()
				return keyFromSecrets(derived)
			}),
			backend.Action(icShout, func(ctx *backend.ActionCtx, in EchoIn) (EchoOut, error) {
				out, err := backend.Act(ctx, icUpper, in)
				if err != nil {
					return out, err
				}
				return out, backend.Mutate(ctx, icSetSecret, KeyIn{Key: out.Text})
			}),
		},
	}
}

// keyFromSecrets is a KeyFunc: it sees only a context.Context.
func keyFromSecrets(ctx context.Context) (string, error) {
	secrets, err := backend.TableFrom(ctx, icSecrets)
	if err != nil {
		return "", err
	}
	s, _, err := secrets.Get("api")
	return s.Value, err
}

func icSecret(t *testing.T, e *backend.Engine) string {
	t.Helper()
	out, err := e.Act(context.Background(), "peek", mustJSON(EchoIn{}))
	if err != nil {
		t.Fatalf("peek: %v", err)
	}
	return strings.Trim(string(out), `"`)
}

func TestInternalMutatorsAreForServerCode(t *testing.T) {
	ctx := context.Background()
	ran := make(chan string, 1)
	e := open(t, icConfig(ran), filepath.Join(t.TempDir(), "ic.db"))
	// Server code: a direct call works.
	if _, err := e.Mutate(ctx, "setSecret", mustJSON(KeyIn{Key: "k1"})); err != nil {
		t.Fatalf("server Mutate of an internal mutator: %v", err)
	}
	if got := icSecret(t, e); got != "k1" {
		t.Errorf("secret after setSecret = %q, want k1", got)
	}
	// A client's push is told what an undeclared name gets, and writes nothing.
	_, pushErr := e.Mutate(ctx, "setSecret", mustJSON(KeyIn{Key: "k2"}), backend.Once("c1", 1))
	_, noneErr := e.Mutate(ctx, "noSuchMutator", mustJSON(KeyIn{Key: "k2"}), backend.Once("c1", 1))
	if !errors.Is(pushErr, backend.ErrUnknown) || noneErr == nil ||
		strings.ReplaceAll(pushErr.Error(), "setSecret", "noSuchMutator") != noneErr.Error() {
		t.Errorf("push of an internal mutator: %v; of an undeclared one: %v", pushErr, noneErr)
	}
	if got := icSecret(t, e); got != "k1" {
		t.Errorf("a refused push wrote the secret: %q", got)
	}
	// A public mutator reaches it, as a step of its own transaction.
	if _, err := e.Mutate(ctx, "rotate", mustJSON(KeyIn{Key: "k3"})); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if got := icSecret(t, e); got != "k3-rotated" {
		t.Errorf("secret after rotate = %q", got)
	}
	// An action reaches an internal action (typed Act) and mutator.
	if out, err := e.Act(ctx, "shout", mustJSON(EchoIn{Text: "hi"})); err != nil || string(out) != `{"text":"HI"}` {
		t.Fatalf("shout: %s %v", out, err)
	}
	if got := icSecret(t, e); got != "HI" {
		t.Errorf("secret after shout = %q", got)
	}
	// A mutator enqueues an internal action (typed Enqueue); clients are
	// told of neither that run nor the internal mutator that enqueued note.
	m, err := e.Mutate(ctx, "enqueueUpper", mustJSON(EchoIn{Text: "queued"}))
	if err != nil || len(m.Runs) != 2 {
		t.Fatalf("enqueueUpper: %+v %v", m, err)
	}
	select {
	case got := <-ran:
		if got != "QUEUED" {
			t.Errorf("the enqueued internal action saw %q", got)
		}
	case <-time.After(30 * time.Second): // generous: a loaded machine
		t.Fatal("the enqueued internal action did not run")
	}
	if _, ok, err := e.Run(ctx, m.Runs[0]); ok || err != nil {
		t.Errorf("a client reads the run of an internal action: %v %v", ok, err)
	}
	if c := m.ClientRuns(); len(c) != 1 || c[0] != m.Runs[1] {
		t.Errorf("ClientRuns = %v of %v", c, m.Runs)
	}
	if r := waitRun(t, e, m.Runs[1]); r.Status != backend.RunSucceeded || r.EnqueuedBy != "" {
		t.Errorf("note's run as a client sees it: %+v", r)
	}
	if visible := names(e); strings.Contains(visible, "setSecret") || strings.Contains(visible, "upper,") ||
		!strings.Contains(visible, "rotate") || !strings.Contains(visible, "shout") {
		t.Errorf("client-visible mutators and actions: %s", visible)
	}
}

func names(e *backend.Engine) string {
	var b strings.Builder
	for _, m := range e.ClientMutators() {
		b.WriteString(m.Name + ",")
	}
	for _, a := range e.ClientActions() {
		b.WriteString(a.Name + ",")
	}
	return b.String()
}

func TestNestedMutatorIsAStep(t *testing.T) {
	ctx := context.Background()
	e := open(t, icConfig(nil), filepath.Join(t.TempDir(), "ic.db"))
	// The failing step's write is undone; the caller's own write commits.
	if _, err := e.Mutate(ctx, "putTwo", mustJSON(PairIn{A: "a1", B: "b1", Fail: true})); err != nil {
		t.Fatal(err)
	}
	if _, ok, _, _ := e.Get(ctx, "items", "a1"); !ok {
		t.Error("the caller's write is missing")
	}
	if _, ok, _, _ := e.Get(ctx, "items", "b1"); ok {
		t.Error("the failed step's write was kept")
	}
	if _, err := e.Mutate(ctx, "putTwo", mustJSON(PairIn{A: "a2", B: "b2"})); err != nil {
		t.Fatal(err)
	}
	if _, ok, _, _ := e.Get(ctx, "items", "b2"); !ok {
		t.Error("the step's write is missing")
	}
	// A mutator calling itself fails with a reason, not a stack overflow.
	_, err := e.Mutate(ctx, "loop", mustJSON(KeyIn{Key: "x"}))
	if !errors.Is(err, backend.ErrHandler) || !strings.Contains(err.Error(), "nest more than") {
		t.Errorf("endless nesting: %v", err)
	}
}

func TestReplicaRunsInternalMutatorsOnlyAsSteps(t *testing.T) {
	ctx := context.Background()
	e := open(t, icConfig(nil), filepath.Join(t.TempDir(), "replica.db"), func(o *backend.Options) { o.Replica = true })
	if _, err := e.Mutate(ctx, "setSecret", mustJSON(KeyIn{Key: "k"})); !errors.Is(err, backend.ErrUnknown) ||
		!strings.Contains(err.Error(), "only as a step of another mutator") {
		t.Errorf("a replica's direct call of an internal mutator: %v", err)
	}
	if _, err := e.Mutate(ctx, "rotate", mustJSON(KeyIn{Key: "k"})); err != nil {
		t.Errorf("a replica's call of a mutator that runs an internal one: %v", err)
	}
	if raw, ok, _, err := e.Get(ctx, "secrets", "api"); err != nil || !ok || string(raw) != `{"value":"k-rotated"}` {
		t.Errorf("the replica's secrets row: %s %v %v", raw, ok, err)
	}
}

func TestTableFromOutsideAnAction(t *testing.T) {
	if _, err := keyFromSecrets(context.Background()); err == nil || !strings.Contains(err.Error(), "does not come from an action call") {
		t.Errorf("TableFrom outside an action: %v", err)
	}
}

// TestInternalStepFailureHidesItsName: a failing internal step reaches the
// caller of a public mutator or action as an internal error naming only
// what the caller called; the server log has the detail.
func TestInternalStepFailureHidesItsName(t *testing.T) {
	ctx := context.Background()
	e := open(t, icConfig(nil), filepath.Join(t.TempDir(), "ic.db"))
	_, mErr := e.Mutate(ctx, "rotate", mustJSON(KeyIn{Key: "bad"}))
	_, aErr := e.Act(ctx, "shout", mustJSON(EchoIn{Text: "bad"}))
	_, actErr := e.Act(ctx, "shout", mustJSON(EchoIn{Text: "x", Mode: "fail"}))
	for _, c := range []struct {
		err          error
		caller, step string
	}{{mErr, "rotate", "setSecret"}, {aErr, "shout", "setSecret"}, {actErr, "shout", "upper"}} {
		if !errors.Is(c.err, backend.ErrInternal) || !strings.Contains(c.err.Error(), c.caller) ||
			strings.Contains(c.err.Error(), c.step) {
			t.Errorf("%s's failing internal step %s: %v", c.caller, c.step, c.err)
		}
	}
	// Server code calling the internal mutator itself gets its own error.
	if _, err := e.Mutate(ctx, "setSecret", mustJSON(KeyIn{Key: "bad"})); !errors.Is(err, backend.ErrHandler) ||
		!strings.Contains(err.Error(), "refusing a bad key") {
		t.Errorf("a direct call's failure: %v", err)
	}
}
