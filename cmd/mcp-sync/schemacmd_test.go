package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/cli"
)

func TestSchemaCommand(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "schema")
	if code != cli.ExitOK {
		t.Fatalf("schema exited %d: %s", code, errOut)
	}
	for _, want := range []string{"table todos", "mutator setTodo", "mutator createAndGenerate", "action generateWithAI", "server-only",
		"mutator setSecret (internal: server code only, never a tool)"} {
		if !strings.Contains(out, want) {
			t.Errorf("schema output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCmd(t, nil, "schema", "--json")
	if code != cli.ExitOK {
		t.Fatalf("schema --json exited %d: %s", code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("schema --json is not JSON: %v\n%s", err, out)
	}
}
