package backend_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
)

// TestUnavailableStoreIsRetryable: a call made while PostgreSQL cannot be
// reached fails as ErrUnavailable (retry), not as an internal error, and
// its message names no server address.
func TestUnavailableStoreIsRetryable(t *testing.T) {
	dsn := pgtest.DSN(t)
	p := pgtest.NewProxy(t, dsn)
	sch := pgtest.Schema(t, dsn, t.Name())
	proxied := p.DSN
	e := openReplica(t, proxied, sch, "a")
	if _, err := e.Mutate(context.Background(), "putNote", mustJSON(RNote{ID: "before"})); err != nil {
		t.Fatal(err)
	}
	p.Down() // the server goes away
	_, err := e.Mutate(context.Background(), "putNote", mustJSON(RNote{ID: "during"}))
	if backend.KindOf(err) != backend.ErrUnavailable || !errors.Is(err, backend.ErrUnavailable) {
		t.Fatalf("Mutate during the outage = %v (kind %v), want ErrUnavailable", err, backend.KindOf(err))
	}
	if strings.Contains(err.Error(), p.Addr) || strings.Contains(err.Error(), "internal error") || !strings.Contains(err.Error(), "retry") {
		t.Fatalf("message %q: want a retry hint, no address, no internal error", err)
	}
	if _, _, _, err := e.Get(context.Background(), "notes", "before"); backend.KindOf(err) != backend.ErrUnavailable {
		t.Fatalf("Get during the outage = %v, want ErrUnavailable", err)
	}
}
