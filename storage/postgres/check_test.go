package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage/storagetest"
)

// TestCheckFindsDamage: Check passes intact data, then names a damaged
// value, a row the caller's Row refuses, and missing and stray log records.
func TestCheckFindsDamage(t *testing.T) {
	s, _, dsn, schema := newSchema(t, Options{})
	for _, k := range []string{"k1", "k2", "k3"} {
		storagetest.Put(t, s, "a", k, `"ok"`)
	}
	storagetest.Put(t, s, "b", "x", `{}`)
	ctx := context.Background()
	rep, err := Check(ctx, dsn, CheckOptions{Schema: schema})
	if err != nil || !rep.OK() || rep.Version != 4 || rep.LogRecords != 4 || len(rep.Tables) != 2 || rep.Tables[0].Rows != 3 {
		t.Fatalf("Check of intact data = %+v, %v", rep, err)
	}
	exec(t, dsn, schema, `UPDATE {s}.rows SET v = 'x' WHERE k = 'k2'`)
	exec(t, dsn, schema, `DELETE FROM {s}.log WHERE version = 2`)
	exec(t, dsn, schema, `INSERT INTO {s}.log (version, batch, changes, ck) VALUES (99, 0, '', 0)`)
	rep, err = Check(ctx, dsn, CheckOptions{Schema: schema, Row: func(table, key string, _ []byte) error {
		if key == "k3" {
			return errors.New("not what the schema wants")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{`table a: key "k2": stored value is damaged`, `table a: key "k3": not what the schema wants`,
		"[change log]: versions 2 to 2 are missing", `[change log]: key "99": a record past the committed version 4`} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if _, err := Check(ctx, dsn, CheckOptions{Schema: pgtest.Schema(t, dsn, "empty")}); err == nil || !strings.Contains(err.Error(), "no mcp-sync data") {
		t.Fatalf("Check of a schema without data = %v", err)
	}
}
