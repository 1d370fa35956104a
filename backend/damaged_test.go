package backend_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/storage/bolt/damage"
)

// TestDamagedRowIsNamedNotHidden: a row whose stored value fails its
// checksum reaches a caller as ErrDamaged naming the table and key (what
// they can act on) rather than as an internal error with only a reference,
// and never with the data file's path. Other rows still read and write.
func TestDamagedRowIsNamedNotHidden(t *testing.T) {
	path := t.TempDir() + "/hard.db"
	const marker = "victim-text-0123456789"
	eng, _, _ := openJobApp(t, path)
	for _, in := range []string{
		`{"table":"notes","key":"victim","text":"` + marker + `"}`,
		`{"table":"notes","key":"other","text":"fine"}`,
	} {
		if _, err := eng.Mutate(context.Background(), "put", []byte(in)); err != nil {
			t.Fatal(err)
		}
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	var flip *damage.Variant
	for _, v := range damage.Variants([]byte(marker)) {
		if v.RowDamage {
			flip = &v
		}
	}
	if flip == nil {
		t.Fatal("storage/bolt/damage has no row-damage variant")
	}
	if err := flip.Apply(path); err != nil {
		t.Fatal(err)
	}

	eng, _, logs := openJobApp(t, path, func(o *backend.Options) { o.AllowDamagedRows = true })
	_, _, _, err := eng.Get(t.Context(), "notes", "victim")
	if backend.KindOf(err) != backend.ErrDamaged {
		t.Fatalf("Get of the damaged row: kind %v, err %v; want ErrDamaged", backend.KindOf(err), err)
	}
	msg := err.Error()
	for _, want := range []string{`"notes"`, `"victim"`, "damaged"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not name %s: %s", want, msg)
		}
	}
	if strings.Contains(msg, path) || strings.Contains(msg, "ref ") {
		t.Errorf("the error carries the path or only a reference: %s", msg)
	}
	if !strings.Contains(logs.String(), "damaged row") {
		t.Errorf("the damaged row was not logged:\n%s", logs)
	}
	if _, ok, _, err := eng.Get(t.Context(), "notes", "other"); err != nil || !ok {
		t.Errorf("an intact row: ok %v, err %v", ok, err)
	}
	// Rewriting the damaged row repairs it.
	if _, err := eng.Mutate(context.Background(), "put", []byte(`{"table":"notes","key":"victim","text":"again"}`)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _, err := eng.Get(t.Context(), "notes", "victim"); err != nil || !ok {
		t.Errorf("after a rewrite: ok %v, err %v", ok, err)
	}
}
