package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/storagetest"
)

// openStore opens a store over schema on the test server.
func openStore(t testing.TB, dsn, schema string, opts Options, so storage.Options) (*storage.Store, *Driver) {
	t.Helper()
	opts.Schema = schema
	d, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open(schema %s): %v", schema, err)
	}
	s := storage.New(d, so)
	t.Cleanup(func() { _ = s.Close() })
	return s, d
}

// TestDriverSuite: the PostgreSQL driver passes the suite every driver
// must.
func TestDriverSuite(t *testing.T) {
	dsn := pgtest.DSN(t)
	var mu sync.Mutex
	schemas := map[string]string{} // the suite's names (one a test) → schemas
	storagetest.Run(t, storagetest.Driver{
		Durable: true,
		Open: func(tb testing.TB, name string, o storagetest.Options) *storage.Store {
			mu.Lock()
			schema := schemas[name]
			if schema == "" {
				schema = pgtest.Schema(tb, dsn, name)
				schemas[name] = schema
			}
			mu.Unlock()
			s, _ := openStore(tb, dsn, schema, Options{Tables: o.Tables, LogRetention: o.LogRetention, AuditRetention: o.AuditRetention},
				storage.Options{SubscriberBuffer: o.SubscriberBuffer})
			return s
		},
	})
}
