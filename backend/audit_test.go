package backend_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
	"github.com/mcp-sync/mcp-sync/schema"
)

// history reads every entry of the audit ctx's caller may see.
func history(t *testing.T, e *backend.Engine, ctx context.Context) []backend.HistoryEntry {
	t.Helper()
	var out []backend.HistoryEntry
	after := uint64(0)
	for range 1000 {
		page, next, err := e.History(ctx, backend.HistoryOptions{After: after, Limit: 7})
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		out = append(out, page...)
		if next == 0 {
			return out
		}
		after = next
	}
	t.Fatal("History never returned its last page")
	return nil
}

func caller(ctx context.Context, subject, client, session, tool string, scopes ...string) context.Context {
	ctx = backend.WithIdentity(ctx, backend.Identity{Subject: subject, ClientID: client, Scopes: scopes})
	return backend.WithCallInfo(ctx, backend.CallInfo{Session: session, Tool: tool})
}

// TestAuditNamesEachWritesCause: every version the engine commits has an
// entry naming its cause: a caller's mutator call (subject, client,
// session, tool), a run's writes (the run, its action and its caller), the
// run's own bookkeeping. Each caller reads only its own entries, without
// server-only or internal tables' names; an admin reads all; bad limits
// are refused. On both drivers.
func TestAuditNamesEachWritesCause(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e, _ := newEngine(t, drv)
		alice := caller(t.Context(), "alice", "web", "s-alice", "putItem")
		bob := caller(t.Context(), "bob", "cli", "s-bob", "enqueue")
		admin := caller(t.Context(), "root", "ops", "s-root", "", backend.DefaultAuditAdminScope)

		m1, err := e.Mutate(alice, "putItem", mustJSON(Item{ID: "1", Name: "one"}))
		if err != nil {
			t.Fatal(err)
		}
		m2, err := e.Mutate(bob, "enqueue", mustJSON(EnqueueIn{ID: "2", Text: "two"}))
		if err != nil {
			t.Fatal(err)
		}
		run := waitRun(t, e, m2.Runs[0])
		m3, err := e.Mutate(caller(t.Context(), "alice", "web", "s-alice", "setSecret"), "setSecret", mustJSON(KeyIn{Key: "hush"}))
		if err != nil {
			t.Fatal(err)
		}

		all := history(t, e, admin)
		if len(all) == 0 || all[0].Version != 1 || all[len(all)-1].Version != e.Version() {
			t.Fatalf("admin's history spans %d entries, want every version 1…%d", len(all), e.Version())
		}
		for i, h := range all {
			if h.Version != uint64(i+1) {
				t.Fatalf("version %d has no audit entry (entry %d is v%d)", i+1, i, h.Version)
			}
		}
		byVersion := func(v uint64) backend.HistoryEntry { return all[v-1] }
		if h := byVersion(m1.Version); h.Cause != (backend.Cause{Subject: "alice", ClientID: "web", Session: "s-alice", Tool: "putItem", Mutator: "putItem"}) ||
			len(h.Changes) != 1 || h.Changes[0] != (backend.HistoryChange{Table: "items", Key: "1", Op: "put"}) {
			t.Fatalf("alice's putItem v%d: %+v", m1.Version, h)
		}
		if h := byVersion(m2.Version); h.Cause.Subject != "bob" || h.Cause.Tool != "enqueue" || h.Cause.Session != "s-bob" ||
			!slices.ContainsFunc(h.Changes, func(c backend.HistoryChange) bool { return c.Table == backend.RunsTable && c.Key == run.ID }) {
			t.Fatalf("bob's enqueue v%d as the admin sees it: %+v", m2.Version, h)
		}
		var runWrite, bookkeeping *backend.HistoryEntry
		for i := range all {
			h := &all[i]
			if h.Cause.Run != run.ID {
				continue
			}
			if h.Cause.Mutator == "putItem" {
				runWrite = h
			} else if h.Cause.Subject == "" {
				bookkeeping = h
			}
		}
		if runWrite == nil || runWrite.Cause != (backend.Cause{Subject: "bob", ClientID: "cli", Mutator: "putItem", Action: "echo", Run: run.ID}) ||
			len(runWrite.Changes) != 1 || runWrite.Changes[0].Key != "echoed-two" {
			t.Fatalf("the run's ctx.Mutate: %+v, want bob's run %s of echo writing items/echoed-two", runWrite, run.ID)
		}
		if bookkeeping == nil {
			t.Fatalf("no entry names run %s's claim or outcome: %+v", run.ID, all)
		}

		mine := history(t, e, alice)
		if len(mine) != 2 || mine[0].Version != m1.Version || mine[1].Version != m3.Version {
			t.Fatalf("alice's history: %+v, want v%d and v%d", mine, m1.Version, m3.Version)
		}
		if h := mine[1]; len(h.Changes) != 0 || h.Hidden != 1 {
			t.Fatalf("alice's setSecret as she sees it: %+v, want no change named and 1 hidden", h)
		}
		bobs := history(t, e, bob)
		if len(bobs) != 2 || bobs[0].Version != m2.Version || bobs[1].Version != runWrite.Version {
			t.Fatalf("bob's history: %+v, want v%d and the run's v%d", bobs, m2.Version, runWrite.Version)
		}
		if h := bobs[0]; len(h.Changes) != 1 || h.Changes[0].Table != "items" || h.Hidden != 2 {
			t.Fatalf("bob's enqueue as he sees it: %+v, want items/2 and the run's records hidden", h)
		}
		for _, h := range append(mine, bobs...) {
			for _, c := range h.Changes {
				if c.Table == "secrets" || strings.HasPrefix(c.Table, ".") {
					t.Fatalf("a caller without the admin scope sees table %q in v%d", c.Table, h.Version)
				}
			}
		}
		if server := history(t, e, context.Background()); len(server) != len(all) {
			t.Fatalf("server code reads %d entries, want all %d", len(server), len(all))
		}
		if _, _, err := e.History(alice, backend.HistoryOptions{Limit: 1001}); !errors.Is(err, backend.ErrInvalidInput) || !strings.Contains(err.Error(), "1000") {
			t.Fatalf("a limit over the maximum: %v, want invalid input naming 1000", err)
		}
	})
}

// TestAuditAdminScopeOption: Options.AuditAdminScope names the scope that
// reads everyone's history; the default one then does not.
func TestAuditAdminScopeOption(t *testing.T) {
	e, _ := newEngine(t, func(o *backend.Options) { o.AuditAdminScope = "audit:all" })
	if _, err := e.Mutate(caller(t.Context(), "alice", "", "", "putItem"), "putItem", mustJSON(Item{ID: "1", Name: "one"})); err != nil {
		t.Fatal(err)
	}
	if got := history(t, e, caller(t.Context(), "eve", "", "", "", backend.DefaultAuditAdminScope)); len(got) != 0 {
		t.Fatalf("the default admin scope read %d entries with another scope configured", len(got))
	}
	if got := history(t, e, caller(t.Context(), "eve", "", "", "", "audit:all")); len(got) != 1 || got[0].Cause.Subject != "alice" {
		t.Fatalf("the configured admin scope read %+v, want alice's entry", got)
	}
}

// An app with an internal mutator a public action calls, for
// TestAuditHidesInternalNames.
var (
	hItems    = schema.Table[Item]("hitems")
	hPublic   = schema.Action[KeyIn, EchoOut]("hpublic", "Write through an internal mutator")
	hInternal = schema.Mutator[KeyIn]("hinternal", "Write an item", schema.Internal())
	hSchema   = schema.MustDefine(1, hItems, hPublic, hInternal)
)

// TestAuditHidesInternalNames: a caller's history of a write an action
// made through an internal mutator names the action, not the mutator; an
// admin's names both.
func TestAuditHidesInternalNames(t *testing.T) {
	cfg := backend.Config{Schema: hSchema,
		Mutators: []backend.MutatorImpl{backend.Mutator(hInternal, func(ctx *backend.MutatorCtx, in KeyIn) error {
			return backend.TableOf(ctx, hItems).Set(in.Key, Item{ID: in.Key, Name: "x"})
		})},
		Actions: []backend.ActionImpl{backend.Action(hPublic, func(ctx *backend.ActionCtx, in KeyIn) (EchoOut, error) {
			return EchoOut{}, ctx.Mutate("hinternal", in)
		})}}
	e := open(t, cfg, filepath.Join(t.TempDir(), "h.db"))
	alice := caller(t.Context(), "alice", "web", "s1", "hpublic")
	if _, err := e.Act(alice, "hpublic", mustJSON(KeyIn{Key: "k"})); err != nil {
		t.Fatal(err)
	}
	mine := history(t, e, alice)
	if len(mine) != 1 || mine[0].Cause != (backend.Cause{Subject: "alice", ClientID: "web", Session: "s1", Tool: "hpublic", Action: "hpublic"}) ||
		len(mine[0].Changes) != 1 || mine[0].Changes[0].Key != "k" {
		t.Fatalf("alice's history: %+v, want her hpublic call's write without the internal mutator's name", mine)
	}
	if all := history(t, e, context.Background()); len(all) != 1 || all[0].Cause.Mutator != "hinternal" {
		t.Fatalf("the server's history: %+v, want the internal mutator named", all)
	}
}
