// Package cli gives an app's own binary mcp-sync's commands: [Main] (or
// [New]) with the app's config makes a program with serve, tools, call,
// watch, schema and check. It is also the plumbing the mcp-sync commands
// share (mcp-sync and mcp-sync-bench, the load lab): the environment a
// command may touch, exit codes, subcommand dispatch, flag helpers, the
// serve and check commands, and starting a server as a child process.
package cli

import (
	"io"
	"os"
)

// Exit codes, the same for every command.
const (
	ExitOK    = 0
	ExitFail  = 1 // the command ran and failed
	ExitUsage = 2 // the command line was wrong
)

// Environ is what a command may touch of the outside world, so tests can run
// commands in-process with their own.
type Environ struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	IsTerminal     bool // stdout is a terminal
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
