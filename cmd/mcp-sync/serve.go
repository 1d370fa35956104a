package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/examples/conformance"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/tools"
)

func runServe(ctx context.Context, env *environ, args []string) int {
	fs := newFlags(env, "serve", "serve [flags]",
		"Serves the todo app (or, with --app conformance, the MCP conformance suite's\n"+
			"fixtures) over MCP: every mutator and action is a tool, every table a\n"+
			"resource. stdio by default (register it in Claude or an IDE as a command);\n"+
			"with --http, streamable HTTP at /mcp and SSE at /sse on that address.\n"+
			"Logs go to stderr; in stdio mode stdout carries only the protocol.")
	data := fs.String("data", "", "data file (default $MCP_SYNC_DATA, else $XDG_DATA_HOME/mcp-sync/todo.db)")
	httpAddr := fs.String("http", "", "serve HTTP on this address instead of stdio, e.g. 127.0.0.1:8080 (port 0 picks one)")
	token := fs.String("token", "", "require Authorization: Bearer <token> on HTTP (default $MCP_SYNC_TOKEN)")
	httpLimits := addHTTPFlags(fs)
	delay := fs.Duration("ai-delay", 30*time.Millisecond, "pause between chunks of the built-in local AI stream")
	verbose := fs.Bool("v", false, "log debug detail")
	allowDamaged := fs.Bool("allow-damaged-rows", false, "start on a data file some of whose rows fail their checksum (each is logged; reading one fails until it is rewritten or deleted)")
	startProfile := cpuProfileFlag(fs)
	limits := addLimitFlags(fs)
	app := fs.String("app", "todo", "the app to serve: todo; conformance (the fixtures of the MCP conformance suite); bench (what mcp-sync bench measures)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "mcp-sync serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *app != "todo" && *app != "conformance" && *app != "bench" {
		fmt.Fprintf(env.stderr, "mcp-sync serve: unknown app %q (want todo, conformance or bench)\n", *app)
		return exitUsage
	}
	stopProfile, err := startProfile()
	if err != nil {
		fmt.Fprintf(env.stderr, "mcp-sync serve: %v\n", err)
		return exitFail
	}
	defer stopProfile()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
	fail := func(format string, a ...any) int {
		logger.Error(fmt.Sprintf(format, a...))
		return exitFail
	}
	if *token == "" {
		*token = env.getenv("MCP_SYNC_TOKEN")
	}
	path, err := dataPath(*data, env.getenv)
	if err != nil {
		return fail("%v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fail("creating the data directory: %v", err)
	}

	var cfg backend.Config
	var opts tools.Options
	switch *app {
	case "conformance":
		cfg, opts = conformance.Config(), conformance.Options()
	case "bench":
		cfg, opts = benchConfig(), tools.Options{Name: "mcp-sync-bench"}
	default: // todo: the only app that calls a model
		// The AI notice goes to stderr: stdout is the protocol.
		provider, closeAI, err := demoProvider(&environ{stdout: env.stderr, stderr: env.stderr, getenv: env.getenv}, *delay)
		if err != nil {
			return fail("%v", err)
		}
		defer closeAI()
		cfg, opts = todo.Config(provider, env.getenv), tools.Options{Name: "mcp-sync-todo",
			Instructions: "A todo list kept in a transactional store. Use setTodo/deleteTodo to change todos, createAndGenerate to have AI write one (it runs after the commit; follow it with get_row or get_run), and list_rows/get_row to read."}
	}
	opts.Logger = logger
	hopts := tools.HTTPOptions{Token: *token}
	httpLimits(&hopts, &opts)
	eng, err := backend.Open(cfg, limits.apply(backend.Options{Path: path, Logger: logger, AllowDamagedRows: *allowDamaged}, &opts))
	if err != nil {
		return fail("%v", err)
	}
	defer eng.Close()
	srv, err := tools.New(eng, opts)
	if err != nil {
		return fail("%v", err)
	}
	defer srv.Close()

	if *httpAddr == "" {
		logger.Info("serving MCP on stdio", "app", *app, "data", path)
		if err := srv.ServeStdio(ctx, os.Stdin, env.stdout); err != nil {
			return fail("%v", err)
		}
		return exitOK
	}
	err = srv.ServeHTTP(ctx, *httpAddr, hopts, func(base string) {
		logger.Info("serving MCP over HTTP", "url", base+tools.PathStreamable, "sse", base+tools.PathSSE,
			"app", *app, "data", path, "token", *token != "")
	})
	if err != nil {
		return fail("%v", err)
	}
	return exitOK
}

// cpuProfileFlag adds --cpuprofile to fs. The start it returns, called
// after parsing, profiles the process into the file named until stop runs;
// without the flag both do nothing.
func cpuProfileFlag(fs *flag.FlagSet) (start func() (stop func(), err error)) {
	path := fs.String("cpuprofile", "", "write a CPU profile to this file until the server stops (for tuning)")
	return func() (func(), error) {
		if *path == "" {
			return func() {}, nil
		}
		f, err := os.Create(*path)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("profiling into %s: %w", *path, err)
		}
		return func() { pprof.StopCPUProfile(); f.Close() }, nil
	}
}
