package backend_test

import (
	"strings"
	"testing"
)

// TestAuditCauseOfEscapedFields: a caller whose subject, client id and
// session are long and made of characters JSON escapes still writes, and
// both it and an admin read the entry. Each field of a recorded cause is
// cut to 256 bytes, but escaping can make six bytes of each: the cause
// must still fit the storage's limit rather than fail the write it
// records.
func TestAuditCauseOfEscapedFields(t *testing.T) {
	e, _ := newEngine(t)
	sub, client := strings.Repeat("<", 300), strings.Repeat("&\x01", 150)
	ctx := caller(t.Context(), sub, client, strings.Repeat("\x02", 300), "putItem")
	m, err := e.Mutate(ctx, "putItem", mustJSON(Item{ID: "1", Name: "one"}))
	if err != nil {
		t.Fatalf("a write by a caller with an escaped subject and client id: %v", err)
	}
	all := history(t, e, t.Context())
	if len(all) != 1 || all[0].Version != m.Version || !strings.HasPrefix(all[0].Cause.Subject, "<<<") || !strings.Contains(all[0].Cause.Subject, "#") {
		t.Fatalf("the admin's history: %+v, want v%d naming the subject's start and digest", all, m.Version)
	}
	if own := history(t, e, ctx); len(own) != 1 || own[0].Version != m.Version {
		t.Fatalf("the caller's own history: %+v, want v%d", own, m.Version)
	}
}
