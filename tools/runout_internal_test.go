package tools

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
)

// TestRunOutIsTheRunsJSON: get_run and run resources answered with
// backend.Run's own JSON before wire.Run existed; the conversion keeps every
// field, byte for byte. A field added to backend.Run fails here until the
// contract says whether clients see it.
func TestRunOutIsTheRunsJSON(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 5, time.UTC)
	later := at.Add(time.Second)
	run := &backend.Run{ID: "r1", Action: "a", Input: json.RawMessage(`{"x":1}`), Status: backend.RunFailed,
		Attempts: 3, Output: json.RawMessage(`{"y":2}`), Error: "e", EnqueuedBy: "m", Version: 9, EnqueuedAt: at,
		StartedAt: &at, FinishedAt: &later, NextAttemptAt: &later, Redacted: true,
		Caller: &backend.Identity{Subject: "alice", ClientID: "app", Scopes: []string{"s"}},
		Task:   true, ErrorKind: backend.RunErrorHandler, CancelRequested: true, Cancelled: true,
		InputRequests:  map[string]backend.InputRequest{"k": {Method: backend.MethodRoots}},
		InputResponses: map[string]json.RawMessage{"j": json.RawMessage(`{}`)}, ClientCaps: []string{backend.CapRoots}}
	// Every field set, so that one left out of the conversion shows.
	v := reflect.ValueOf(*run)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("set backend.Run.%s in this test", v.Type().Field(i).Name)
		}
	}
	// Caller (who enqueued the run) is the server's until per-user runs
	// (issue 21) decide who may see it: get_run leaves it out.
	// A task's input requests and answers are the task surface's (tasks/get
	// shows what it waits for); the answers may be the user's own words and
	// the capabilities are bookkeeping: get_run leaves all three out.
	seen := *run
	seen.Caller = nil
	seen.InputRequests, seen.InputResponses, seen.ClientCaps = nil, nil, nil
	want, _ := json.Marshal(&seen)
	got, _ := json.Marshal(runOut(run))
	if string(got) != string(want) {
		t.Errorf("get_run answers\n%s\nbackend.Run is\n%s", got, want)
	}
}
