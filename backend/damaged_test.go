package backend_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
	damageRow(t, path, marker)

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

// TestDamagedRunRecordIsNotRetried: a queued run whose stored record is
// damaged is logged once and left queued, not retried on a backoff that
// would log it every minute forever; get of the run names the damage, and
// other runs go on.
func TestDamagedRunRecordIsNotRetried(t *testing.T) {
	path := t.TempDir() + "/runs.db"
	const marker = "run-secret-0123456789" // only the run's input holds it
	eng, app, _ := openJobApp(t, path)
	m, err := eng.Mutate(t.Context(), "startJob", []byte(`{"id":"j1","mode":"block","secret":"`+marker+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	<-app.started
	if err := eng.Close(); err != nil { // the run is cut off, left queued
		t.Fatal(err)
	}
	damageRow(t, path, marker)

	eng, _, logs := openJobApp(t, path, func(o *backend.Options) { o.AllowDamagedRows = true })
	mentions := func() (n int) { // log lines naming the run
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, m.Runs[0]) {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for mentions() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Retries would come 10 ms, 20 ms, 40 ms... apart (RetryBackoff).
	time.Sleep(300 * time.Millisecond)
	if n := mentions(); n != 1 || !strings.Contains(logs.String(), "stored record is damaged") {
		t.Fatalf("the damaged run was logged %d times, want once as damaged:\n%s", n, logs)
	}
	if _, _, err := eng.Run(t.Context(), m.Runs[0]); backend.KindOf(err) != backend.ErrDamaged {
		t.Errorf("Run of the damaged run: kind %v, err %v; want ErrDamaged", backend.KindOf(err), err)
	}
	m2, err := eng.Mutate(t.Context(), "startJob", []byte(`{"id":"j2","mode":"ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	if run := waitRun(t, eng, m2.Runs[0]); run.Status != backend.RunSucceeded {
		t.Errorf("another run after the damaged one: %s (%s)", run.Status, run.Error)
	}
}

// damageRow flips a byte of marker in the closed data file at path,
// damaging the one row whose value holds it (storage/bolt/damage).
func damageRow(t *testing.T, path, marker string) {
	t.Helper()
	for _, v := range damage.Variants([]byte(marker)) {
		if v.RowDamage {
			if err := v.Apply(path); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("storage/bolt/damage has no row-damage variant")
}
