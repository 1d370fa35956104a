package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoLoadLabInUserCLI: the load lab (bench, soak, the bare mcp-go
// baseline and the fixture apps) lives in mcp-sync-bench; the user's binary
// neither imports bbolt or mcp-go's server itself nor links the fixtures.
func TestNoLoadLabInUserCLI(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".", "../../cli", "../../internal/todoapp").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for imp := range strings.SplitSeq(string(out), "\n") {
		if imp == "go.etcd.io/bbolt" || strings.HasPrefix(imp, "github.com/mark3labs/mcp-go/server") {
			t.Errorf("mcp-sync imports %s directly: the bare baselines belong to cmd/mcp-sync-bench", imp)
		}
	}
	out, err = exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for dep := range strings.SplitSeq(string(out), "\n") {
		if dep == "github.com/mcp-sync/mcp-sync/examples/conformance" || dep == "github.com/mcp-sync/mcp-sync/cmd/mcp-sync-bench" {
			t.Errorf("mcp-sync links %s: the fixture apps and the lab belong to cmd/mcp-sync-bench", dep)
		}
	}
}
