package backend_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
)

// crashEnv, when set, makes the test binary act as the process that crashes:
// it commits work, starts an enqueued action, says so, and waits to be killed.
const crashEnv = "MCP_SYNC_TEST_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if spec := os.Getenv(replicaEnv); spec != "" {
		replicaChild(spec)
		return
	}
	os.Exit(m.Run())
}

func crashChild(path string) {
	app := &testApp{hang: func() { fmt.Println("RUNNING") }}
	e, err := backend.Open(app.config(), backend.Options{Path: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("OPEN FAILED:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	for i := range 20 {
		if _, err := e.Mutate(ctx, "putItem", mustJSON(Item{ID: fmt.Sprintf("pre-%02d", i), Name: "committed"})); err != nil {
			fmt.Println("MUTATE FAILED:", err)
			os.Exit(1)
		}
	}
	if _, err := e.Mutate(ctx, "enqueue", mustJSON(EnqueueIn{ID: "job", Text: "survivor"})); err != nil {
		fmt.Println("ENQUEUE FAILED:", err)
		os.Exit(1)
	}
	select {} // killed by the parent
}

// TestCrashRecovery kills (SIGKILL) a process while an enqueued action runs;
// the next process runs it to completion and nothing committed is lost.
func TestCrashRecovery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line := <-lines:
		if line != "RUNNING" {
			cmd.Process.Kill()
			t.Fatalf("child said %q", line)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child never started the action")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
		t.Fatal(err)
	}
	cmd.Wait()

	e := open(t, (&testApp{}).config(), path)
	ids := runIDs(t, e)
	if len(ids) != 1 {
		t.Fatalf("runs after restart = %v", ids)
	}
	run := waitRun(t, e, ids[0])
	if run.Status != backend.RunSucceeded || run.Attempts != 2 || string(run.Output) != `{"text":"survivor"}` {
		t.Errorf("run = %+v, want succeeded on its second attempt", run)
	}
	rows, _, _, err := e.Scan(t.Context(), "items", backend.ScanOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var pre int
	for _, r := range rows {
		if strings.HasPrefix(r.Key, "pre-") {
			pre++
		}
	}
	if pre != 20 {
		t.Errorf("%d of 20 committed rows survived", pre)
	}
	for _, key := range []string{"job", "echoed-survivor"} {
		if _, ok, _, _ := e.Get(t.Context(), "items", key); !ok {
			t.Errorf("row %q is missing", key)
		}
	}
}
