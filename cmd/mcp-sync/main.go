// Command mcp-sync runs mcp-sync apps: see `mcp-sync help`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, the same for every command.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed
	exitUsage = 2 // the command line was wrong
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *environ, args []string) int
}

// environ is what a command may touch of the outside world, so tests can run
// commands in-process with their own.
type environ struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	isTerminal     bool // stdout is a terminal
}

func commands() []command {
	return []command{
		{"demo", "watch an AI answer stream into a todo, on a local data file (no set-up needed)", runDemo},
		{"serve", "serve an app over MCP (stdio, or streamable HTTP and SSE with --http)", runServe},
		{"tools", "list a server's tools with their schemas", runTools},
		{"call", "call a tool and print its result, with progress", runCall},
		{"watch", "print a table's or a row's changes live", runWatch},
		{"soak", "drive the todo app with mixed load and check nothing leaks (--idle-sessions N: measure idle sessions' memory)", runSoak},
		{"bench", "measure calls/s and latency against a bare mcp-go server, in one run", runBench},
		{"schema", "print the todo app's tables, mutators and actions with their JSON Schemas", runSchema},
		{"check", "check a data file (pages, checksums, JSON, schemas) without changing it; exit 0 only when intact", runCheck},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &environ{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, isTerminal: isTerminal(os.Stdout)}
	code := run(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, env *environ, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return run(ctx, env, []string{args[1], "--help"})
		}
		usage(env.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	if args[0] == "bare-serve" { // bench's baseline server, not a user command
		return runBareServe(ctx, env, args[1:])
	}
	fmt.Fprintf(env.stderr, "mcp-sync: unknown command %q\n\n", args[0])
	usage(env.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "mcp-sync: live, transactional, streaming app data and actions for AI models and apps.")
	fmt.Fprintln(w, "\nUsage: mcp-sync <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'mcp-sync <command> --help' for a command's flags.")
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
