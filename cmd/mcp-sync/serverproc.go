package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"time"
)

// serverURLPattern finds the URL in a serving mcp-sync's log line.
var serverURLPattern = regexp.MustCompile(`url=(http://\S+/mcp)`)

// serverProc is a server started by startServerProc.
type serverProc struct {
	URL  string
	PID  int
	Stop func()
	Logs func() string // what it wrote to stderr so far
}

// startServerProc starts bin with args (a server that logs url=…/mcp on
// stderr once listening) and waits until it says where it listens.
func startServerProc(ctx context.Context, bin string, args ...string) (serverProc, error) {
	return startServerProcEnv(ctx, nil, bin, args...)
}

// startServerProcEnv is startServerProc with env (NAME=value) added to the
// child's environment; it overrides the OPENAI_* and MCP_SYNC_TOKEN
// variables otherwise emptied (exec keeps the last of duplicates).
func startServerProcEnv(ctx context.Context, env []string, bin string, args ...string) (serverProc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "MCP_SYNC_TOKEN="), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return serverProc{}, err
	}
	if err := cmd.Start(); err != nil {
		return serverProc{}, err
	}
	exited := make(chan struct{})
	logs := &lockedBuffer{}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := serverURLPattern.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	select {
	case u := <-found:
		return serverProc{URL: u, PID: cmd.Process.Pid, Stop: stop, Logs: logs.String}, nil
	case <-exited:
		return serverProc{}, fmt.Errorf("%s exited before serving:\n%s", bin, logs.String())
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	stop()
	return serverProc{}, fmt.Errorf("%s did not say where it listens within 30 s:\n%s", bin, logs.String())
}
