// Package drivertest runs engine tests on each storage driver: the
// embedded bbolt file, and PostgreSQL in a schema of the test's own (see
// internal/pgtest for how the server is found).
package drivertest

import (
	"context"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/postgres"
)

// Both runs test once per driver, as subtests "bolt" and "postgres"; drv
// selects the driver: apply it to the backend.Options the test opens its
// engine with (bbolt: it changes nothing, the test's Path is used).
func Both(t *testing.T, test func(t *testing.T, drv func(*backend.Options))) {
	t.Run("bolt", func(t *testing.T) { test(t, func(*backend.Options) {}) })
	t.Run("postgres", func(t *testing.T) { test(t, Postgres(t)) })
}

// Postgres returns the option that opens engines on a new schema of the
// test server, dropped when t ends; every engine opened with it shares the
// schema, as replicas do. Without a server t is skipped (failed under
// CI=true).
func Postgres(t testing.TB) func(*backend.Options) {
	var dsn, schema string
	return PostgresAt(t, &dsn, &schema)
}

// PostgresAt is [Postgres] that also stores the server's DSN and the
// schema in dsn and schema, for a test that hands them to a command.
func PostgresAt(t testing.TB, dsn, schema *string) func(*backend.Options) {
	*dsn = pgtest.DSN(t)
	*schema = pgtest.Schema(t, *dsn, t.Name())
	return postgresOpener(*dsn, *schema)
}

func postgresOpener(dsn, schema string) func(*backend.Options) {
	return func(o *backend.Options) {
		o.Storage = func(tables []string, schemaVersion int) (storage.Driver, error) {
			return postgres.Open(context.Background(), dsn, postgres.Options{Tables: tables, SchemaVersion: schemaVersion,
				Schema: schema, LogRetention: uint64(max(o.LogRetention, 0)), Logger: o.Logger})
		}
	}
}
