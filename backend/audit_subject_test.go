package backend_test

import (
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
)

// TestAuditLongSubjects: the audit bounds the subject it records, yet a
// caller still reads exactly its own history: a subject over the bound
// reads its own entries, and a subject that is another's first bytes
// reads none of the other's.
func TestAuditLongSubjects(t *testing.T) {
	e, _ := newEngine(t)
	short := strings.Repeat("s", 256) // at the bound: recorded whole
	long := short + "-and-more"       // over it: its first 256 bytes are short
	if _, err := e.Mutate(caller(t.Context(), long, "web", "s-long", "putItem"), "putItem", mustJSON(Item{ID: "1", Name: "one"})); err != nil {
		t.Fatal(err)
	}
	if hs := history(t, e, caller(t.Context(), short, "web", "s-short", "")); len(hs) != 0 {
		t.Errorf("the subject %d bytes long reads %d entries of the subject %d bytes long that it starts: %+v", len(short), len(hs), len(long), hs)
	}
	hs := history(t, e, caller(t.Context(), long, "web", "s-long", ""))
	if len(hs) != 1 || len(hs[0].Changes) != 1 || hs[0].Changes[0].Key != "1" {
		t.Errorf("the subject %d bytes long reads %+v; want its own write of item 1", len(long), hs)
	}
	if len(hs) == 1 && len(hs[0].Cause.Subject) > 300 {
		t.Errorf("the recorded subject is %d bytes; want it bounded", len(hs[0].Cause.Subject))
	}
}

// TestAuditCauseOfEscapedNames: a subject and client id full of
// characters JSON writes as six bytes each would make a cause record over
// storage.MaxCauseSize; the write still commits, and its caller still
// reads it in its history.
func TestAuditCauseOfEscapedNames(t *testing.T) {
	e, _ := newEngine(t)
	subject := strings.Repeat("<", 250)
	who := backend.WithIdentity(t.Context(), backend.Identity{Subject: subject, ClientID: strings.Repeat("\x01", 250)})
	who = backend.WithCallInfo(who, backend.CallInfo{Session: strings.Repeat("&", 250), Tool: "putItem"})
	if _, err := e.Mutate(who, "putItem", mustJSON(Item{ID: "esc", Name: "escaped"})); err != nil {
		t.Fatalf("a write whose cause is full of escaped characters: %v", err)
	}
	hs := history(t, e, who)
	if len(hs) != 1 || len(hs[0].Changes) != 1 || hs[0].Changes[0].Key != "esc" {
		t.Errorf("its caller's history: %+v; want the write of esc", hs)
	}
}
