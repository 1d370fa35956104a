package main

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// fsyncLog is the cheapest durable write a server can make: records appended
// to one file, each caller answered once an fsync that began after its write
// has returned. Writers that arrive while a sync runs share the next one, and
// write while it runs, so the disk never waits on the CPU: a group commit with
// nothing else in it. `mcp-sync-bench bench` measures it as the floor under any
// durable tool on the machine.
type fsyncLog struct {
	mu      sync.Mutex
	synced  *sync.Cond
	f       *os.File
	written uint64 // records written
	durable uint64 // records known to be on disk
	syncing bool
}

// openFsyncLog creates (or truncates) the log file at path.
func openFsyncLog(path string) (*fsyncLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	l := &fsyncLog{f: f}
	l.synced = sync.NewCond(&l.mu)
	return l, nil
}

// append writes rec and returns once it is on disk.
func (l *fsyncLog) append(rec []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(rec); err != nil {
		return fmt.Errorf("appending to %s: %w", l.f.Name(), err)
	}
	l.written++
	mine := l.written
	for l.durable < mine {
		if l.syncing {
			l.synced.Wait()
			continue
		}
		// Lead a sync of everything written so far; writers keep writing.
		l.syncing = true
		upTo := l.written
		l.mu.Unlock()
		err := l.f.Sync()
		l.mu.Lock()
		l.syncing = false
		l.synced.Broadcast()
		if err != nil {
			return fmt.Errorf("syncing %s: %w", l.f.Name(), err)
		}
		l.durable = max(l.durable, upTo)
	}
	return nil
}

func (l *fsyncLog) close() error { return l.f.Close() }

// addAppendTool adds the bare server's append tool to s: one 100-byte
// record appended to l, answered once fsync'd.
func addAppendTool(s *server.MCPServer, l *fsyncLog) {
	rec := make([]byte, 100)
	rec[len(rec)-1] = '\n'
	t := mcp.NewTool("append", mcp.WithDescription("Append one record to a file, fsync'd (group commit)"), mcp.WithString("key"))
	s.AddTool(t, func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if err := l.append(rec); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		return mcp.NewToolResultText("ok"), nil
	})
}
