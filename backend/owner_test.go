package backend_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
)

// TestLocalAndSignedInOwnersApart: a local caller (stdio, the static token)
// named like a signed-in subject is another owner: neither reads, lists nor
// overwrites the other's private rows, and neither sees the other's runs.
func TestLocalAndSignedInOwnersApart(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e := openPrivate(t, drv)
		signedIn := as("alice")
		local := backend.WithIdentity(context.Background(), backend.Identity{Subject: "alice", Local: true})
		mustSave(t, e, signedIn, "a", "signed-in a")
		mustSave(t, e, local, "a", "local a")
		for who, want := range map[context.Context]string{signedIn: "signed-in a", local: "local a"} {
			v, ok, _, err := e.Get(who, "notes", "a")
			if err != nil || !ok || !strings.Contains(string(v), want) {
				t.Errorf("a for %q: %s, %v, %v", want, v, ok, err)
			}
			rows, _, _, err := e.Scan(who, "notes", backend.ScanOptions{Limit: 10})
			if err != nil || len(rows) != 1 {
				t.Errorf("scan for %q: %d rows, %v; want its own one", want, len(rows), err)
			}
		}
		run, err := e.StartRun(signedIn, privSummarize.Name(), []byte(`{"key":"a"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := e.Run(local, run.ID); err != nil || ok {
			t.Errorf("the local alice reads the signed-in alice's run: %v, %v", ok, err)
		}
		if got := (backend.Identity{Subject: "alice", Local: true}).Owner(); got != backend.LocalOwnerPrefix+"alice" {
			t.Errorf("a local alice's owner: %q", got)
		}
	})
}
