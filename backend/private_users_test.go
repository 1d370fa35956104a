package backend_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
)

// TestPrivateServerRunsKeepTheirOwner: a run server code enqueues while
// naming an owner (backend.WithOwner) works on that owner's rows, as a
// caller's run does on the caller's; one enqueued with no owner fails with
// an error that says the table is private, and touches nobody's rows.
func TestPrivateServerRunsKeepTheirOwner(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e := openPrivate(t, drv)
		mustSave(t, e, as("alice"), "n", "alice's text")
		mustSave(t, e, as("bob"), "n", "bob's text")
		server := context.Background()

		m, err := e.Mutate(backend.WithOwner(server, "alice"), "queueSummary", mustJSON(privKey{Key: "n"}))
		if err != nil || len(m.Runs) != 1 {
			t.Fatalf("queueSummary as server code for alice: %+v, %v", m, err)
		}
		run, ok, err := e.WaitRun(server, m.Runs[0])
		if err != nil || !ok || run.Status != backend.RunSucceeded {
			t.Errorf("the run server code enqueued for alice (backend.WithOwner): %s, %q (%v, %v); want it to summarize her note", run.Status, run.Error, ok, err)
		} else if v, _, _, _ := e.Get(as("alice"), "notes", "n"); !strings.Contains(string(v), `"summary":"summary of alice's text"`) {
			t.Errorf("alice's note after the run: %s", v)
		}
		if v, _, _, _ := e.Get(as("bob"), "notes", "n"); strings.Contains(string(v), "summary") {
			t.Errorf("bob's note after alice's run: %s", v)
		}

		m, err = e.Mutate(server, "queueSummary", mustJSON(privKey{Key: "n"}))
		if err != nil || len(m.Runs) != 1 {
			t.Fatalf("queueSummary as server code naming no owner: %+v, %v", m, err)
		}
		run, ok, err = e.WaitRun(server, m.Runs[0])
		if err != nil || !ok || run.Status != backend.RunFailed || !strings.Contains(run.Error, "private") {
			t.Fatalf("a run with no owner reading a private table: %+v, %v, %v; want it failed saying the table is private", run, ok, err)
		}
		if v, _, _, _ := e.Get(as("bob"), "notes", "n"); strings.Contains(string(v), "summary") {
			t.Errorf("bob's note after the ownerless run: %s", v)
		}
		if _, _, _, err := e.Get(server, "notes", "n"); err == nil || backend.KindOf(err) != backend.ErrForbidden {
			t.Errorf("server code reading a private table naming no owner: %v; want ErrForbidden", err)
		}
	})
}

// TestPrivateNeighbourOwnersScans: owners whose stored ranges sit side by
// side ("bo", "bob", "boc", "bob0") each scan exactly their own rows,
// forwards and backwards, whole or a row a page, with and without a key
// prefix, and read only their own changes, with keys at both ends of the
// key space (a key of the highest code point, one of a space).
func TestPrivateNeighbourOwnersScans(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e := openPrivate(t, drv)
		owners := []string{"bo", "bob", "boc", "bob0"}
		keys := []string{" ", "a", "b:c", "z", "z\U0010FFFF", "\U0010FFFF"}
		for _, o := range owners {
			for _, k := range keys {
				mustSave(t, e, as(o), k, o+"|"+k)
			}
		}
		for _, o := range owners {
			for _, rev := range []bool{false, true} {
				for _, prefix := range []string{"", "z", "\U0010FFFF"} {
					var want []string
					for _, k := range keys {
						if strings.HasPrefix(k, prefix) {
							want = append(want, k)
						}
					}
					slices.Sort(want)
					if rev {
						slices.Reverse(want)
					}
					for _, limit := range []int{0, 1} {
						var got []string
						for after := ""; len(got) <= len(want); {
							rows, next, _, err := e.Scan(as(o), "notes", backend.ScanOptions{Prefix: prefix, After: after, Limit: limit, Reverse: rev})
							if err != nil {
								t.Fatalf("%s's scan: %v", o, err)
							}
							for _, r := range rows {
								got = append(got, r.Key)
								var n privNote
								if err := json.Unmarshal(r.Value, &n); err != nil || n.Text != o+"|"+r.Key {
									t.Errorf("%s's scan: %q = %s, want the text %q", o, r.Key, r.Value, o+"|"+r.Key)
								}
							}
							if after = next; next == "" {
								break
							}
						}
						if !slices.Equal(got, want) {
							t.Errorf("%s's scan (prefix %q, reverse %v, limit %d) = %q, want %q", o, prefix, rev, limit, got, want)
						}
					}
				}
			}
			evs, err := e.ChangesSince(as(o), backend.Filter{Table: "notes", Prefix: "z"}, 0, 1000)
			if err != nil {
				t.Fatalf("%s's changes: %v", o, err)
			}
			var got []string
			for _, ev := range evs {
				for _, c := range ev.Changes {
					got = append(got, c.Key)
					if !strings.Contains(string(c.Value), `"`+o+"|") {
						t.Errorf("%s's changes: %q = %s", o, c.Key, c.Value)
					}
				}
			}
			if want := []string{"z", "z\U0010FFFF"}; !slices.Equal(got, want) {
				t.Errorf("%s's changes of prefix z = %q, want %q", o, got, want)
			}
		}
	})
}
