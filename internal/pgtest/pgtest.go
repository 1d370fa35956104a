// Package pgtest finds a PostgreSQL server for tests and gives each test a
// schema of its own, dropped when the test ends.
//
// The server, in order: MCP_SYNC_TEST_POSTGRES (a DSN) if set; else the
// local server on 127.0.0.1:5432 (user postgres, database test); else one
// started from the installed PostgreSQL binaries in a temporary directory,
// stopped and removed when the test process exits; else the test is
// skipped with a one-line reason — except under CI=true, where it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable that points tests at a PostgreSQL server.
const EnvDSN = "MCP_SYNC_TEST_POSTGRES"

// LocalDSN is the development machines' server.
const LocalDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// server is found once per test process: a started server is shared by all
// of the process's tests, and stopped when the process exits.
var server struct {
	once sync.Once
	dsn  string
	why  string // why there is none
}

// DSN returns the connection string of a PostgreSQL server for t, or skips
// t (fails it under CI=true) when none can be had.
func DSN(t testing.TB) string {
	t.Helper()
	server.once.Do(func() { server.dsn, server.why = find() })
	if server.dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL for this test (CI=true: not skipped): %s", server.why)
		}
		t.Skipf("no PostgreSQL: %s", server.why)
	}
	return server.dsn
}

func find() (dsn, why string) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		if err := ping(dsn); err != nil {
			return "", fmt.Sprintf("%s is set but its server does not answer: %v", EnvDSN, err)
		}
		return dsn, ""
	}
	if ping(LocalDSN) == nil {
		return LocalDSN, ""
	}
	dsn, err := start()
	if err != nil {
		return "", fmt.Sprintf("%s is not set, nothing answers on 127.0.0.1:5432, and none could be started (%v)", EnvDSN, err)
	}
	return dsn, ""
}

func ping(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// Schema returns a new schema name for t, unique to this call (hint makes
// it readable), and drops the schema, with everything in it, when t ends.
// The schema itself is not created: the driver creates its own.
func Schema(t testing.TB, dsn, hint string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '_'
	}, hint)
	name := "t_" + clean[:min(len(clean), 30)] + "_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return name
}
