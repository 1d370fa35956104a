package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
)

// TestCommandsOnPostgres: with $MCP_SYNC_POSTGRES the notes app's call
// (its serve started over stdio), watch and check work on PostgreSQL; check
// names a damaged row; --data with --postgres is a usage error.
func TestCommandsOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn, t.Name())
	bin := notesBinary(t)
	run := func(args ...string) (int, string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "MCP_SYNC_TOKEN=", "MCP_SYNC_DATA=", "XDG_DATA_HOME="+t.TempDir(),
			"MCP_SYNC_POSTGRES="+dsn, "MCP_SYNC_POSTGRES_SCHEMA="+schema)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("notes %v did not finish\n%s\n%s", args, out.String(), errb.String())
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	if code, out, errOut := run("call", "saveNote", `{"id":"n1","text":"hello","tags":["a"]}`); code != 0 || !strings.Contains(out, `"version": 1`) {
		t.Fatalf("call saveNote: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := run("watch", "notes/n1", "--until", "text=hello"); code != 0 || !strings.Contains(out, `"tags":["a"]`) {
		t.Errorf("watch: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := run("check"); code != 0 || !strings.Contains(out, "table:    notes: 1 rows") || !strings.Contains(out, "result:   OK") || strings.Contains(out, "@") {
		t.Errorf("check: exit %d\n%s\n%s", code, out, errOut)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE `+pgx.Identifier{schema}.Sanitize()+`.rows SET v = '{"id":"n1"}' WHERE tbl = 'notes'`); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run("check"); code != 1 || !strings.Contains(out, `table notes: key "n1": stored value is damaged`) {
		t.Errorf("check of a damaged row: exit %d\n%s", code, out)
	}
	if code, _, errOut := run("serve", "--data", "x.db", "--postgres", dsn); code != 2 || !strings.Contains(errOut, "give one") {
		t.Errorf("serve --data --postgres: exit %d, %s", code, errOut)
	}
}
