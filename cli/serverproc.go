package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// ServerURLPattern finds the URL in a serving mcp-sync's log line.
var ServerURLPattern = regexp.MustCompile(`url=(http://\S+/mcp)`)

// ServerProc is a server started by StartServerProc.
type ServerProc struct {
	URL  string
	PID  int
	Stop func()
	Logs func() string // what it wrote to stderr so far
}

// StartServerProc starts bin with args (a server that logs url=…/mcp on
// stderr once listening) and waits until it says where it listens.
func StartServerProc(ctx context.Context, bin string, args ...string) (ServerProc, error) {
	return StartServerProcEnv(ctx, nil, bin, args...)
}

// StartServerProcEnv is StartServerProc with env (NAME=value) added to the
// child's environment; it overrides the OPENAI_* and MCP_SYNC_TOKEN
// variables otherwise emptied (exec keeps the last of duplicates).
func StartServerProcEnv(ctx context.Context, env []string, bin string, args ...string) (ServerProc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "MCP_SYNC_TOKEN="), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return ServerProc{}, err
	}
	if err := cmd.Start(); err != nil {
		return ServerProc{}, err
	}
	exited := make(chan struct{})
	logs := &LockedBuffer{}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := ServerURLPattern.FindStringSubmatch(sc.Text()); m != nil {
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
		return ServerProc{URL: u, PID: cmd.Process.Pid, Stop: stop, Logs: logs.String}, nil
	case <-exited:
		return ServerProc{}, fmt.Errorf("%s exited before serving:\n%s", bin, logs.String())
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	stop()
	return ServerProc{}, fmt.Errorf("%s did not say where it listens within 30 s:\n%s", bin, logs.String())
}

// LockedBuffer collects a spawned server's log, shown if it fails.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p; it is safe to call from several goroutines.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SyncWriter serialises writes to W, a writer several goroutines share (a
// server's logger and the command that started it).
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

// Write writes p to W, one call at a time.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(p)
}
