package bolt

import (
	"bufio"
	"context"
	"fmt"
	"github.com/mcp-sync/mcp-sync/storage"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// childWriteEnv makes the test binary, re-executed by
// TestKilledWriterLeavesAFileThatOpens, write to the named file until it is
// killed, printing each acknowledged key.
const childWriteEnv = "STORAGE_TEST_CHILD_WRITE"

func childWrite(path string) {
	s, err := OpenStore(path, Options{Tables: testTables})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	acks := make(chan string, 64)
	for w := range 4 {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("p%d-w%d-%06d", os.Getpid(), w, i)
				_, err := s.Update(context.Background(), func(tx *storage.WriteTx) error {
					return tx.Put("a", key, []byte(strings.Repeat("v", 50+i%400)))
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(4)
				}
				acks <- key
			}
		}()
	}
	out := bufio.NewWriter(os.Stdout)
	for k := range acks {
		fmt.Fprintln(out, k)
		out.Flush()
	}
}

// TestKilledWriterLeavesAFileThatOpens: a file whose writer was SIGKILLed
// mid-commit passes Open's structure check and checksums (no false alarm
// after a crash), and holds every write that was acknowledged.
func TestKilledWriterLeavesAFileThatOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "killed.db")
	acked := map[string]bool{}
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childWriteEnv+"="+path)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill once some writes are acknowledged, at a varying point.
		want, got := 20+round*37, 0
		deadline := time.After(60 * time.Second)
	wait:
		for got < want {
			select {
			case k, ok := <-lines:
				if !ok {
					break wait
				}
				acked[k] = true
				got++
			case <-deadline:
				t.Fatalf("round %d: only %d writes acknowledged in 60s", round, got)
			}
		}
		_ = cmd.Process.Kill()
		for k := range lines {
			acked[k] = true
		}
		_ = cmd.Wait()

		s, err := OpenStore(path, Options{Tables: testTables})
		if err != nil {
			t.Fatalf("round %d: Open after SIGKILL: %v", round, err)
		}
		have := rows(t, s, "a")
		for k := range acked {
			if _, ok := have[k]; !ok {
				t.Fatalf("round %d: acknowledged write %s lost", round, k)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if rep, err := Check(path, CheckOptions{}); err != nil || !rep.OK() {
			t.Fatalf("round %d: Check after SIGKILL: %v %v", round, err, rep.Problems)
		}
	}
	t.Logf("%d acknowledged writes over 8 kills, none lost", len(acked))
}
