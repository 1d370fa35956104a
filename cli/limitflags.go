package cli

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/tools"
)

// sizeFlag is a non-negative integer flag: a negative value is refused when
// the flags are parsed, with the flag's name in the message.
type sizeFlag struct{ n int }

func (f *sizeFlag) String() string { return strconv.Itoa(f.n) }

func (f *sizeFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("want a whole number, 0 or more; got %q", s)
	}
	f.n = n
	return nil
}

// limitFlags are serve's flags for the engine's and the MCP server's
// limits. 0 turns a limit off (for the queue: no call waits).
type limitFlags struct {
	maxRow, maxInput, calls, perSession, queue, tasks sizeFlag
}

func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	l := &limitFlags{
		maxRow: sizeFlag{backend.DefaultMaxRowBytes}, maxInput: sizeFlag{backend.DefaultMaxInputBytes},
		calls: sizeFlag{tools.DefaultMaxActionCalls}, perSession: sizeFlag{tools.DefaultMaxActionCallsPerSession},
		queue: sizeFlag{tools.DefaultMaxActionQueue}, tasks: sizeFlag{backend.DefaultMaxTasks},
	}
	fs.Var(&l.maxRow, "max-row-bytes", "largest row value (JSON `bytes`) a table accepts, unless the app's schema sets the table's own; 0: no limit")
	fs.Var(&l.maxInput, "max-input-bytes", "largest input (JSON `bytes`) of one mutator or action call; 0: no limit")
	fs.Var(&l.calls, "max-action-calls", "`n` direct action calls running at once, all sessions together; 0: no limit")
	fs.Var(&l.perSession, "max-action-calls-per-session", "`n` direct action calls one session runs at once; 0: no limit")
	fs.Var(&l.queue, "max-action-queue", "`n` action calls that may wait for a free slot; beyond it a call fails at once as busy; 0: none wait")
	fs.Var(&l.tasks, "max-tasks", "`n` unfinished tasks (action runs started as MCP tasks) one caller may have; beyond it a task is refused as busy; 0: no limit")
	return l
}

// apply sets the limits on the engine's options and on so, the server's,
// and returns the engine's.
func (l *limitFlags) apply(bo backend.Options, so *tools.Options) backend.Options {
	bo.MaxRowBytes, bo.MaxInputBytes, bo.MaxTasks = none(l.maxRow.n), none(l.maxInput.n), none(l.tasks.n)
	so.MaxActionCalls, so.MaxActionCallsPerSession, so.MaxActionQueue = none(l.calls.n), none(l.perSession.n), none(l.queue.n)
	return bo
}
