package notes_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/schema"
)

// readmeNote mirrors the README app's Note, to watch its rows.
type readmeNote struct {
	ID      string   `json:"id"`
	Text    string   `json:"text"`
	Tags    []string `json:"tags"`
	Summary string   `json:"summary,omitempty"`
	Done    bool     `json:"done"`
}

// snippetRE finds a marked code block: the file name, then the fence's text.
var snippetRE = regexp.MustCompile("(?s)<!-- snippet: (\\S+) -->\n```[a-z]*\n(.*?)```\n")

// readmeSnippets returns the marked code blocks of the README's "Your own
// app" section, by file name.
func readmeSnippets(t *testing.T, root string) map[string]string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Your own app\n")
	if !ok {
		t.Fatal(`the README has no "## Your own app" section`)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	files := map[string]string{}
	for _, m := range snippetRE.FindAllStringSubmatch(section, -1) {
		files[m[1]] = m[2]
	}
	for _, name := range []string{"notes.go", "main.go", "try.sh"} {
		if files[name] == "" {
			t.Fatalf("the README's \"Your own app\" has no snippet %s (mark it with <!-- snippet: %s --> before its fence)", name, name)
		}
	}
	return files
}

// buildReadmeApp writes the README's files into a module of their own that
// requires this repository (by a replace, offline) and runs `go build` in it.
func buildReadmeApp(t *testing.T, files map[string]string) (dir string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the go command is needed to build the README's app: %v", err)
		}
		t.Skipf("the go command is not on the PATH, so the README's app cannot be built: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "notes")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The repository's own requirements go in too, as `go mod tidy` would
	// write them: with only mcp-sync required, the go command walks the
	// unpruned graph of old dependencies (pgpassfile needs testify v1.3.0's
	// go.mod), which a fresh module cache offline does not have.
	rootMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	_, reqs, ok := strings.Cut(string(rootMod), "\nrequire")
	if !ok {
		t.Fatal("the repository's go.mod requires nothing")
	}
	gomod := "module example.com/notes\n\ngo 1.26\n\nrequire github.com/mcp-sync/mcp-sync v0.0.0\n\nrequire" + reqs +
		"\nreplace github.com/mcp-sync/mcp-sync => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write := map[string]string{"go.mod": gomod, "go.sum": string(sum)}
	for name, text := range files {
		write[name] = text
	}
	for name, text := range write {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the README's app: %v\n%s", err, out)
	}
	return dir
}

// TestReadmeOwnApp builds the README's "Your own app" as written, serves
// it over stdio to a real MCP client that watches a note's summary grow
// (against a local OpenAI-compatible server named by OPENAI_BASE_URL), and
// runs the section's shell lines.
func TestReadmeOwnApp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module of its own: not in -short")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	files := readmeSnippets(t, root)
	dir := buildReadmeApp(t, files)
	const summary = "Buy milk, eggs and bread."
	llm := startLLM(t, localai.Options{Text: summary})
	env := []string{ai.EnvBaseURL + "=" + llm.URL(), ai.EnvModel + "=" + localai.DefaultModel, ai.EnvAPIKey + "=",
		"XDG_DATA_HOME=" + t.TempDir(), "MCP_SYNC_DATA=", "MCP_SYNC_TOKEN="}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	var stderr bytes.Buffer
	c, err := client.DialCommand(ctx, filepath.Join(dir, "notes"), []string{"serve", "--data", filepath.Join(t.TempDir(), "mcp.db")},
		client.Options{Env: env, Stderr: &stderr})
	if err != nil {
		t.Fatalf("serving the README's app over stdio: %v\n%s", err, stderr.String())
	}
	if _, err := c.Call(ctx, "saveNote", readmeNote{ID: "n1", Text: "Buy milk, eggs and bread before six.", Tags: []string{}}); err != nil {
		t.Fatalf("saveNote: %v", err)
	}
	w, err := client.Watch(ctx, c, schema.Table[readmeNote]("notes"), client.Selector{Key: "n1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The first event is the snapshot, read before the stream starts:
	// otherwise a stream that ends first leaves the snapshot all there is.
	if ev, err := w.Next(ctx); err != nil || !ev.Resync {
		t.Fatalf("watching n1: first event %+v, %v, want the snapshot\n%s", ev, err, stderr.String())
	}
	calls := make(chan error, 1)
	go func() { _, err := c.Call(ctx, "summarize", map[string]string{"id": "n1"}); calls <- err }()
	var seen []string
	for done := false; !done; {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("watching n1 after %q: %v\n%s", seen, err, stderr.String())
		}
		for _, ch := range ev.Changes {
			if s := ch.Value.Summary; s != "" && (len(seen) == 0 || s != seen[len(seen)-1]) {
				seen = append(seen, s)
			}
			done = ch.Value.Done
		}
	}
	w.Close()
	if err := <-calls; err != nil {
		t.Fatalf("summarize: %v", err)
	}
	if words := len(strings.Fields(summary)); len(seen) != words || seen[len(seen)-1] != summary {
		t.Errorf("the watcher saw the summary as %q, want it grow a word at a time (%d chunks) to %q", seen, words, summary)
	}
	c.Close()

	// The shell lines, as written, on the app's default data file.
	sh := exec.CommandContext(ctx, "sh", "-e", "-c", files["try.sh"])
	sh.Dir = dir
	sh.Env = append(os.Environ(), env...)
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's shell lines: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"summary":"`+summary+`"`) || !strings.Contains(string(out), `"done":true`) {
		t.Errorf("the README's watch did not end with the summary written:\n%s", out)
	}
}
