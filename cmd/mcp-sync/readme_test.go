package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeWarnsOfFirstBuild: the README's Quick start and "Your own app"
// each warn that the first run or build compiles for a few minutes (a new
// user's first `go run ./cmd/mcp-sync demo` compiled for about 3.5 minutes
// with no word about it).
func TestReadmeWarnsOfFirstBuild(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	warning := regexp.MustCompile(`(?i)first (run|` + "`go build`" + `)[^.]*compiles[^.]*few minutes`)
	for _, c := range []struct{ heading, command string }{
		{"## Quick start", "go run ./cmd/mcp-sync demo"},
		{"## Your own app", "go build"},
	} {
		_, section, ok := strings.Cut(readme, "\n"+c.heading+"\n")
		if !ok {
			t.Errorf("the README has no %q section", c.heading)
			continue
		}
		if end := strings.Index(section, "\n## "); end >= 0 {
			section = section[:end]
		}
		flat := strings.Join(strings.Fields(section), " ")
		if !strings.Contains(flat, c.command) || !warning.MatchString(flat) {
			t.Errorf("%s: %q is there %v, but no warning that the first build takes a few minutes", c.heading, c.command, strings.Contains(flat, c.command))
		}
	}
}
