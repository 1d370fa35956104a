package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage"
)

// TestAuditOldSchemaAndDamage: a schema made before the audit existed (no
// audit table) opens, keeps its data and audits the writes from then on;
// a record whose bytes changed is reported as damaged, naming its version.
func TestAuditOldSchemaAndDamage(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn, t.Name())
	opts := Options{Tables: []string{"a"}}
	s, _ := openStore(t, dsn, schema, opts, storage.Options{})
	if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error { return w.Put("a", "old", []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DROP TABLE "+pgx.Identifier{schema, "audit"}.Sanitize()); err != nil {
		t.Fatal(err)
	}

	s, _ = openStore(t, dsn, schema, opts, storage.Options{})
	v, err := s.Update(storage.WithCause(context.Background(), []byte("alice")), func(w *storage.WriteTx) error {
		return w.Put("a", "new", []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Audit(storage.AuditQuery{})
	if err != nil || len(got) != 1 || got[0].Version != v || string(got[0].Cause) != "alice" {
		t.Fatalf("audit after reopening an old schema: %+v, %v; want alice's v%d alone", got, err, v)
	}

	if _, err := conn.Exec(context.Background(), "UPDATE "+pgx.Identifier{schema, "audit"}.Sanitize()+" SET ck = ck + 1 WHERE version = $1", int64(v)); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Audit(storage.AuditQuery{})
	var ce *storage.CorruptError
	if !errors.As(err, &ce) || ce.Table != storage.AuditLabel || ce.Key != fmt.Sprint(v) {
		t.Fatalf("reading a damaged audit record: %v, want a CorruptError naming the audit and v%d", err, v)
	}
}
