package backend_test

import (
	"context"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/postgres"
)

// onBothDrivers runs test once on each storage driver: bbolt, then
// PostgreSQL in a schema of its own (skipped without a server: see
// internal/pgtest). drv selects the driver: pass it to open or newEngine,
// which still take the data file's path (PostgreSQL ignores it).
func onBothDrivers(t *testing.T, test func(t *testing.T, drv func(*backend.Options))) {
	t.Run("bolt", func(t *testing.T) { test(t, func(*backend.Options) {}) })
	t.Run("postgres", func(t *testing.T) { test(t, onPostgres(t)) })
}

// onPostgres returns the option that opens engines on a new schema of the
// test server; every engine opened with it shares that schema.
func onPostgres(t *testing.T) func(*backend.Options) {
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn, t.Name())
	return func(o *backend.Options) {
		o.Storage = func(tables []string, schemaVersion int) (storage.Driver, error) {
			return postgres.Open(context.Background(), dsn, postgres.Options{Tables: tables, SchemaVersion: schemaVersion,
				Schema: schema, LogRetention: uint64(max(o.LogRetention, 0)), Logger: o.Logger})
		}
	}
}
