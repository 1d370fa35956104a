package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env *Environ, args []string) int
}

// Program is a binary made of subcommands.
type Program struct {
	Name     string // what the user types, e.g. mcp-sync
	Tagline  string // the first line of the usage text
	Commands []Command
}

// Run runs the subcommand args name with the rest of args, or prints the
// usage: `help CMD` is `CMD --help`.
func (p Program) Run(ctx context.Context, env *Environ, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return p.Run(ctx, env, []string{args[1], "--help"})
		}
		p.Usage(env.Stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	for _, c := range p.Commands {
		if c.Name == args[0] {
			return c.Run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "%s: unknown command %q\n\n", p.Name, args[0])
	p.Usage(env.Stderr)
	return ExitUsage
}

// Usage prints the program's commands to w.
func (p Program) Usage(w io.Writer) {
	width := 8
	for _, c := range p.Commands {
		width = max(width, len(c.Name))
	}
	fmt.Fprintln(w, p.Tagline)
	fmt.Fprintf(w, "\nUsage: %s <command> [flags]\n\nCommands:\n", p.Name)
	for _, c := range p.Commands {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", p.Name)
}

// Main runs the program on the process's arguments, on the process's
// stdio and environment, and exits with the command's code; an interrupt or
// SIGTERM cancels the command's context.
func (p Program) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &Environ{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, IsTerminal: IsTerminal(os.Stdout)}
	code := p.Run(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}
