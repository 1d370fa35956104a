package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// TestCheckFindsAuditDamage: Check reads the audit too, as the bbolt
// driver's does: it names a record whose checksum fails, one that does not
// decode, and one past the committed version; a schema made before the
// audit existed (no audit table) checks clean.
func TestCheckFindsAuditDamage(t *testing.T) {
	s, _, dsn, schema := newSchema(t, Options{})
	ctx := context.Background()
	for _, k := range []string{"k1", "k2", "k3"} {
		if _, err := s.Update(storage.WithCause(ctx, []byte("alice")), func(w *storage.WriteTx) error {
			return w.Put("a", k, []byte(`"ok"`))
		}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Check(ctx, dsn, CheckOptions{Schema: schema})
	if err != nil || !rep.OK() {
		t.Fatalf("Check of an intact audit = %+v, %v", rep, err)
	}
	exec(t, dsn, schema, `UPDATE {s}.audit SET ck = ck + 1 WHERE version = 1`)
	exec(t, dsn, schema, `UPDATE {s}.audit SET rec = $1, ck = $2 WHERE version = 2`, []byte{0xff}, sumAudit(2, []byte{0xff}))
	exec(t, dsn, schema, `INSERT INTO {s}.audit (version, rec, ck) VALUES (99, $1, $2)`, []byte{}, sumAudit(99, []byte{}))
	rep, err = Check(ctx, dsn, CheckOptions{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{`[audit]: key "1": checksum mismatch`, `[audit]: key "2": does not decode`,
		`[audit]: key "99": a record past the committed version 3`} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	exec(t, dsn, schema, `DROP TABLE {s}.audit`)
	if rep, err := Check(ctx, dsn, CheckOptions{Schema: schema}); err != nil || !rep.OK() {
		t.Fatalf("Check of a schema without an audit table = %+v, %v", rep, err)
	}
}
