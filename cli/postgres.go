package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/postgres"
)

// pgFlags are --postgres and --postgres-schema: the data in PostgreSQL
// instead of a bbolt file.
type pgFlags struct {
	dsn, schema *string
}

// addPostgresFlags adds --postgres and --postgres-schema to fs.
func addPostgresFlags(fs *flag.FlagSet) pgFlags {
	return pgFlags{
		dsn:    fs.String("postgres", "", "keep the data in PostgreSQL at `DSN` (postgres://user@host:5432/db) instead of a data file (default $MCP_SYNC_POSTGRES); any number of servers may share it"),
		schema: fs.String("postgres-schema", "", "the PostgreSQL `SCHEMA` holding the data (default $MCP_SYNC_POSTGRES_SCHEMA, else "+postgres.DefaultSchema+")"),
	}
}

// resolve returns the DSN and schema the flags or the environment name; an
// empty DSN means the bbolt file. data is the --data flag's value: with
// --postgres a usage error, and it wins over $MCP_SYNC_POSTGRES.
func (f pgFlags) resolve(getenv func(string) string, data string) (dsn, schema string, err error) {
	dsn, schema = *f.dsn, *f.schema
	if dsn != "" && data != "" {
		return "", "", fmt.Errorf("--data and --postgres both name where the data is: give one")
	}
	if dsn == "" && data == "" {
		dsn = getenv("MCP_SYNC_POSTGRES")
	}
	if schema == "" && dsn != "" {
		schema = getenv("MCP_SYNC_POSTGRES_SCHEMA")
	}
	if schema != "" && dsn == "" {
		return "", "", fmt.Errorf("--postgres-schema needs --postgres DSN (or $MCP_SYNC_POSTGRES)")
	}
	return dsn, schema, nil
}

// postgresStorage is the engine option that opens the data in PostgreSQL.
func postgresStorage(ctx context.Context, dsn, schema string, logger *slog.Logger) func(*backend.Options) {
	return func(o *backend.Options) {
		o.Storage = func(tables []string, schemaVersion int) (storage.Driver, error) {
			return postgres.Open(ctx, dsn, postgres.Options{Tables: tables, SchemaVersion: schemaVersion, Schema: schema,
				LogRetention: uint64(max(o.LogRetention, 0)), AuditRetention: uint64(max(o.AuditRetention, 0)), Logger: logger})
		}
	}
}

// checkPostgres is the check command on PostgreSQL: it prints what
// postgres.Check found, one problem a line.
func checkPostgres(ctx context.Context, env *Environ, prog, dsn, pgSchema string, row func(table, key string, value []byte) error, sch *schema.Schema) int {
	rep, err := postgres.Check(ctx, dsn, postgres.CheckOptions{Schema: pgSchema, Row: row})
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s check: %v\n", prog, err)
		return ExitFail
	}
	w := env.Stdout
	fmt.Fprintf(w, "database: %s\n", rep.Path)
	fmt.Fprintf(w, "format:   %d; schema version %d; committed version %d\n", rep.Format, rep.SchemaVersion, rep.Version)
	rows := 0
	for _, t := range rep.Tables {
		rows += t.Rows
		printTable(w, sch, t.Name, t.Rows, t.Damaged)
	}
	fmt.Fprintf(w, "log:      %d change-log records after version %d\n", rep.LogRecords, rep.LogFloor)
	fmt.Fprintf(w, "checked:  checksums, the log's versions, JSON and schemas of %d rows in %d tables\n", rows, len(rep.Tables))
	if rep.OK() {
		fmt.Fprintln(w, "result:   OK")
		return ExitOK
	}
	fmt.Fprintf(w, "problems: %d\n", len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	fmt.Fprintln(w, "result:   DAMAGED: rewrite or delete the damaged rows, or restore the database from a backup")
	return ExitFail
}
