// Package arch holds the tests of the code as a whole: doc links that
// resolve, and the import graph kept one-way (design
// §3): a package may import only the packages of ours its layer allows, and
// only the bbolt storage driver may import bbolt, and only the PostgreSQL
// driver (and the test helper that finds a server) pgx.
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
		// backend opens its default, embedded store with the bbolt driver.
		"backend":        {"backend/ai", "schema", "storage", "storage/bolt"},
		"backend/ai/...": {"backend/ai"},
		"tools":          {"backend", "schema", "wire", "tools/auth"},
		// tools/auth validates access tokens; it knows none of ours.
		"tools/auth": {},
		"client":     {"backend", "schema", "wire"},
		// An example app may give itself a binary with cli (examples/notes).
		"examples/...": {"backend", "backend/ai", "schema", "tools", "wire", "client", "cli", "examples/todo", "examples/notes"},
		"cmd/...":      {"*"},
		// cli is any app's command line: it serves with tools and talks to
		// a server with client; it knows no app.
		// With --postgres it opens the engine's store with the PostgreSQL
		// driver (storage for the driver type Options.Storage returns, and
		// to tell a busy file, storage.ErrLocked); internal/relay: several
		// stdio servers on one data file.
		"cli": {"backend", "schema", "storage", "storage/bolt", "storage/postgres", "tools", "tools/auth", "wire", "client", "internal/relay"},
		// todoapp is the todo example as mcp-sync and mcp-sync-bench serve it.
		"internal/todoapp": {"backend", "backend/ai", "backend/ai/localai", "cli", "examples/todo", "tools"},
		"internal/arch":    {},
		// testissuer is a test OAuth authorization server; it knows none of ours.
		"internal/testissuer": {},
		// The relay moves bytes between sockets: it knows none of ours.
		"internal/relay": {},
		// The generic store imports no driver; drivers import only it.
		"storage":             {},
		"storage/storagetest": {"storage"},
		"storage/bolt":        {"storage"},
		"storage/bolt/damage": {},
		"storage/postgres":    {"storage"},
		// pgtest finds a PostgreSQL server for tests; it imports none of ours.
		"internal/pgtest": {},
		// drivertest runs engine tests on each driver.
		"internal/drivertest": {"backend", "storage", "storage/postgres", "internal/pgtest"},
		// The contract between server and clients is a leaf.
		"wire": {},
	}

	// knownArrows are arrows the design forbids that the code still has, each
	// with what removes it. Delete an entry when its arrow is gone (the test
	// says so).
	knownArrows := map[string]string{}

	// bboltImporters may import go.etcd.io/bbolt directly: the bbolt driver
	// and the packages under it (its tests' damaged-file maker), and the load
	// lab's bare-bbolt baseline. The generic storage package may not.
	bboltImporters := []string{"storage/bolt", "storage/bolt/...", "cmd/mcp-sync-bench"}

	// knownBbolt are other direct importers of bbolt, with what removes them.
	knownBbolt := map[string]string{}

	// pgxImporters may import github.com/jackc/pgx: the PostgreSQL driver,
	// the tests' server finder, and the load lab's bare-pgx baseline.
	pgxImporters := []string{"storage/postgres", "internal/pgtest", "cmd/mcp-sync-bench"}

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
				case slices.ContainsFunc(bboltImporters, func(p string) bool { return matches(p, from) }):
				case knownBbolt[from] != "":
					seen[arrow] = true
				default:
					t.Errorf("%s imports %s: only the storage driver may import bbolt", from, imp)
				}
				continue
			}
			if strings.HasPrefix(imp, "github.com/jackc/pgx") {
				if !slices.ContainsFunc(pgxImporters, func(p string) bool { return matches(p, from) }) {
					t.Errorf("%s imports %s: only the PostgreSQL storage driver may import pgx", from, imp)
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
		if matches(pattern, from) {
			return slices.Contains(targets, "*") || slices.Contains(targets, to)
		}
	}
	return false
}

// matches reports whether pkg is pattern, or below it when pattern ends in
// "/...".
func matches(pattern, pkg string) bool {
	return pattern == pkg || (strings.HasSuffix(pattern, "/...") && strings.HasPrefix(pkg+"/", strings.TrimSuffix(pattern, "...")))
}
