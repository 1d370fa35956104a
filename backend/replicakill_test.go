package backend_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/postgres"
)

// startReplica runs the test binary as a replica process that enqueues n
// runs and, after hangAfter runs (0: never), holds every run it takes until
// killed; it returns once they are enqueued. Closing stdin stops it.
func startReplica(t *testing.T, dsn, sch, name string, n, hangAfter int) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s\t%s\t%s\t%d\t%d", replicaEnv, dsn, sch, name, n, hangAfter))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Text()
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		if l != "ENQUEUED" {
			t.Fatalf("replica %s said %q", name, l)
		}
	case <-time.After(120 * time.Second):
		t.Fatalf("replica %s did not finish enqueueing its %d runs", name, n)
	}
	return cmd, stdin
}

// TestReplicasRunEachActionOnceThroughAKill: three replicas (this process
// and two children) enqueue 1,000 runs between them; one child is
// SIGKILLed midway. Every run reaches succeeded exactly once, and the
// change log shows that a run was claimed again only after the replica
// holding it was the one killed.
func TestReplicasRunEachActionOnceThroughAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 runs across three processes")
	}
	dsn := pgtest.DSN(t)
	sch := pgtest.Schema(t, dsn, t.Name())
	p := openReplica(t, dsn, sch, "p")
	audit := openAudit(t, dsn, sch)
	// The victim holds the runs it takes after its 20th: a kill timed by
	// polling alone found it between runs on a loaded CI machine.
	victim, _ := startReplica(t, dsn, sch, "c1", 333, 20)
	_, stop2 := startReplica(t, dsn, sch, "c2", 333, 0)
	if err := enqueueMany(p, "p", 334); err != nil {
		t.Fatal(err)
	}
	count := func(table string) int {
		n := 0
		after := ""
		for {
			var more string
			err := audit.View(func(tx *storage.ReadTx) error {
				kvs, next, err := tx.Scan(table, storage.ScanOptions{After: after, Limit: 1000})
				n += len(kvs)
				more = next
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if more == "" {
				return n
			}
			after = more
		}
	}
	killed := fmt.Sprintf("/%d/", victim.Process.Pid)
	// holding reports whether the victim holds a run it has not finished:
	// killed then, it leaves one to take over.
	holding := func() bool {
		var busy bool
		err := audit.View(func(tx *storage.ReadTx) error {
			kvs, _, err := tx.Scan(".queue", storage.ScanOptions{Limit: 1000})
			for _, kv := range kvs {
				var ent struct{ Owner string }
				if json.Unmarshal(kv.Value, &ent) == nil && strings.Contains(ent.Owner, killed) {
					busy = true
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return busy
	}
	deadline := time.Now().Add(3 * time.Minute)
	for count("ran") < 200 || !holding() {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs ran, and the victim held none unfinished, within 3 minutes", count("ran"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := victim.Process.Kill(); err != nil { // SIGKILL: no lease released
		t.Fatal(err)
	}
	_ = victim.Wait()
	for count(".queue") > 0 || count(".runs") < 1000 {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs still unfinished, %d recorded, 3 minutes after the start", count(".queue"), count(".runs"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop2.Close()

	claims := map[string][]string{}
	succeeded := map[string]int{}
	final := map[string]backend.Run{}
	var after uint64
	for {
		evs, err := audit.ChangesSince(after, storage.Filter{Table: ".queue"}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		evs2, err := audit.ChangesSince(after, storage.Filter{Table: ".runs"}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 && len(evs2) == 0 {
			break
		}
		upto := ^uint64(0)
		if len(evs) == 1000 {
			upto = evs[len(evs)-1].Version
		}
		if len(evs2) == 1000 {
			upto = min(upto, evs2[len(evs2)-1].Version)
		}
		for _, ev := range append(evs, evs2...) {
			if ev.Version > upto {
				continue
			}
			for _, c := range ev.Changes {
				if c.Op != storage.OpPut {
					continue
				}
				if c.Table == ".queue" {
					var ent struct{ Owner string }
					_ = json.Unmarshal(c.Value, &ent)
					if cl := claims[c.Key]; ent.Owner != "" && (len(cl) == 0 || cl[len(cl)-1] != ent.Owner) {
						claims[c.Key] = append(cl, ent.Owner)
					}
					continue
				}
				var r backend.Run
				if err := json.Unmarshal(c.Value, &r); err != nil {
					t.Fatal(err)
				}
				if r.Status == backend.RunSucceeded {
					succeeded[c.Key]++
				}
				final[c.Key] = r
			}
		}
		if upto == ^uint64(0) {
			break
		}
		after = upto
	}
	if len(final) != 1000 {
		t.Fatalf("%d runs recorded, want 1000", len(final))
	}
	takenOver := 0
	for id, r := range final {
		if r.Status != backend.RunSucceeded || succeeded[id] != 1 {
			t.Fatalf("run %s: status %s, recorded succeeded %d times; want succeeded exactly once", id, r.Status, succeeded[id])
		}
		cl := claims[id]
		if len(cl) != r.Attempts {
			t.Fatalf("run %s: %d attempts but claims %v", id, r.Attempts, cl)
		}
		for _, owner := range cl[:len(cl)-1] {
			if !strings.Contains(owner, killed) {
				t.Fatalf("run %s was claimed again after %s, which was not killed (killed: %s; this process: %d; claims %v)", id, owner, killed, os.Getpid(), cl)
			}
			takenOver++
		}
	}
	if takenOver == 0 {
		t.Fatal("no run was in flight on the killed replica: the kill tested nothing")
	}
	t.Logf("1000 runs succeeded once each; %d were taken over from the killed replica", takenOver)
}

// openAudit opens the test's schema as a bare store, to read the engines'
// own tables and change log.
func openAudit(t *testing.T, dsn, sch string) *storage.Store {
	t.Helper()
	d, err := postgres.Open(context.Background(), dsn, postgres.Options{Tables: []string{".runs", ".queue", "notes", "ran"},
		SchemaVersion: 1, Schema: sch, LogRetention: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s := storage.New(d, storage.Options{})
	t.Cleanup(func() { s.Close() })
	return s
}
