package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage"
)

// TestCutCommitReportedTruly: a commit whose connection is cut while the
// server is still committing it (a slow deferred trigger holds the COMMIT;
// new connections are refused for a moment, so the driver cannot cancel
// it) is reported as committed when it commits. The driver used to read the
// log at once on reconnecting, find no row yet, and tell the caller to
// retry a write that then committed.
func TestCutCommitReportedTruly(t *testing.T) {
	dsn := pgtest.DSN(t)
	p := pgtest.NewProxy(t, dsn)
	proxied := p.DSN
	schema := pgtest.Schema(t, dsn, t.Name())
	s, _ := openStore(t, proxied, schema, Options{Tables: tables, Timeout: time.Second}, storage.Options{})
	exec(t, dsn, schema, `CREATE FUNCTION {s}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$`)
	exec(t, dsn, schema, `CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON {s}.log DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {s}.slow()`)

	go func() {
		time.Sleep(200 * time.Millisecond) // the batch is in its COMMIT
		p.Refuse()
		time.Sleep(1500 * time.Millisecond) // past the driver's 1 s timeout
		p.Up()
	}()
	_, err := s.Update(context.Background(), func(w *storage.WriteTx) error { return w.Put("a", "cut", []byte("1")) })
	var n int
	exec(t, dsn, schema, `DROP TRIGGER slow ON {s}.log`)
	queryInt(t, dsn, schema, `SELECT count(*) FROM {s}.log WHERE version = 1`, &n)
	switch {
	case err == nil && n != 1:
		t.Fatalf("Update reported success, but version 1 is not in the log")
	case err != nil && n == 1 && !strings.Contains(err.Error(), "unknown"):
		t.Fatalf("Update = %v (retry), but it committed: a retry would apply it twice", err)
	case err != nil && !errors.Is(err, storage.ErrUnavailable):
		t.Fatalf("Update = %v, want success or storage.ErrUnavailable", err)
	}
}

// queryInt scans the one integer sql returns, {s} standing for the schema.
func queryInt(t *testing.T, dsn, schema, sql string, n *int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, strings.ReplaceAll(sql, "{s}", pgx.Identifier{schema}.Sanitize())).Scan(n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
