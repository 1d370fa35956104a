// Package arch holds the test that keeps the import graph one-way (design
// §3): a package may import only the packages of ours its layer allows, and
// only the storage driver may import bbolt.
package arch

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mcp-sync/mcp-sync"

func TestImportsFlowOneWay(t *testing.T) {
	// allowed lists, by package (a trailing "/..." covers those below it), the
	// packages of ours it may import. Packages not matched may import none.
	allowed := map[string][]string{
		"backend":         {"backend/ai", "schema", "storage"},
		"backend/ai/...":  {"backend/ai"},
		"tools":           {"backend", "schema", "tools/wire"},
		"client":          {"backend", "schema", "tools/wire"},
		"examples/...":    {"backend", "backend/ai", "schema", "tools", "tools/wire", "client", "examples/todo"},
		"cmd/...":         {"*"},
		"internal/cli":    {"backend", "backend/ai", "backend/ai/localai", "schema", "storage", "tools", "tools/wire", "client", "examples/todo"},
		"internal/arch":   {},
		"internal/damage": {},
	}

	// knownArrows are arrows the design forbids that the code still has, each
	// with what removes it. Delete an entry when its arrow is gone (the test
	// says so).
	knownArrows := map[string]string{}

	// bboltImporters may import go.etcd.io/bbolt directly: the store, the
	// tests' damaged-file maker, and the load lab's bare-bbolt baseline.
	bboltImporters := []string{"storage", "internal/damage", "cmd/mcp-sync-bench"}

	// knownBbolt are other direct importers of bbolt, with what removes them.
	knownBbolt := map[string]string{}

	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list imports: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, "\t")
		from := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		for imp := range strings.FieldsSeq(imports) {
			if strings.HasPrefix(imp, "go.etcd.io/bbolt") {
				arrow := from + " -> bbolt"
				switch {
				case slices.Contains(bboltImporters, from):
				case knownBbolt[from] != "":
					seen[arrow] = true
				default:
					t.Errorf("%s imports %s: only the storage driver may import bbolt", from, imp)
				}
				continue
			}
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			arrow := from + " -> " + to
			switch {
			case may(allowed, from, to):
			case knownArrows[arrow] != "":
				seen[arrow] = true
			default:
				t.Errorf("%s imports %s: the design's arrows do not allow it (internal/arch/imports_test.go lists what each layer may import)", from, to)
			}
		}
	}
	for arrow, why := range knownArrows {
		if !seen[arrow] {
			t.Errorf("the known arrow %q (%s) is gone: delete it from knownArrows", arrow, why)
		}
	}
	for from, why := range knownBbolt {
		if !seen[from+" -> bbolt"] {
			t.Errorf("%s no longer imports bbolt (%s): delete it from knownBbolt", from, why)
		}
	}
}

// may reports whether package from may import package to under allowed.
func may(allowed map[string][]string, from, to string) bool {
	for pattern, targets := range allowed {
		if pattern == from || (strings.HasSuffix(pattern, "/...") && strings.HasPrefix(from+"/", strings.TrimSuffix(pattern, "..."))) {
			return slices.Contains(targets, "*") || slices.Contains(targets, to)
		}
	}
	return false
}
