package backend_test

import (
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
)

// TestAuditCauseOfEscapedFields: a caller whose subject and client id are
// long and made of characters JSON escapes still writes, and its history
// names it. Each field of a recorded cause is cut to 256 bytes, but
// escaping can make six bytes of each: the cause must still fit the
// storage's limit rather than fail the write it records.
func TestAuditCauseOfEscapedFields(t *testing.T) {
	e, _ := newEngine(t)
	sub, client := strings.Repeat("<", 300), strings.Repeat("&\x01", 150)
	ctx := caller(t.Context(), sub, client, strings.Repeat("\x02", 300), "putItem")
	m, err := e.Mutate(ctx, "putItem", mustJSON(Item{ID: "1", Name: "one"}))
	if err != nil {
		t.Fatalf("a write by a caller with an escaped subject and client id: %v", err)
	}
	all := history(t, e, t.Context())
	if len(all) != 1 || all[0].Version != m.Version || !strings.HasPrefix(sub, all[0].Cause.Subject) || all[0].Cause.Subject == "" {
		t.Fatalf("the admin's history: %+v, want v%d naming a prefix of the subject", all, m.Version)
	}
}

// TestAuditHistoryOfCutSubject: a subject longer than the audit keeps is
// recorded cut; another caller whose whole subject is that cut prefix must
// not read the long subject's history as its own.
func TestAuditHistoryOfCutSubject(t *testing.T) {
	e, _ := newEngine(t)
	short := strings.Repeat("a", 256)
	long := short + "-b"
	if _, err := e.Mutate(caller(t.Context(), long, "", "s-long", "putItem"), "putItem", mustJSON(Item{ID: "1", Name: "one"})); err != nil {
		t.Fatal(err)
	}
	if got := history(t, e, caller(t.Context(), short, "", "", "")); len(got) != 0 {
		t.Fatalf("a caller whose subject is the first 256 bytes of another's reads %d of its entries: %+v", len(got), got)
	}
	// A subject of 256 bytes or fewer that escaping makes too long is cut
	// further: no more anyone's own than one cut at 256 bytes.
	escaped := strings.Repeat("\"", 250)
	if _, err := e.Mutate(caller(t.Context(), escaped, strings.Repeat("\\", 250), strings.Repeat("\x01", 250), "putItem"), "putItem", mustJSON(Item{ID: "2", Name: "two"})); err != nil {
		t.Fatal(err)
	}
	all := history(t, e, caller(t.Context(), "root", "", "", "", backend.DefaultAuditAdminScope))
	if len(all) != 2 || len(all[1].Cause.Subject) >= len(escaped) {
		t.Fatalf("the admin reads %+v, want both entries, the second with its subject cut", all)
	}
	if got := history(t, e, caller(t.Context(), all[1].Cause.Subject, "", "", "")); len(got) != 0 {
		t.Fatalf("a caller whose subject is the recorded cut of another's reads %d of its entries", len(got))
	}
}
