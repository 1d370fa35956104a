package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/tools"
)

// Serve is the serve command of prog: it serves apps[0], or with more than
// one app the one --app names. about is the command's help text.
func Serve(ctx context.Context, env *Environ, prog, about string, apps []App, args []string) int {
	fs := NewFlags(env, prog, "serve", "serve [flags]", about)
	data := fs.String("data", "", "data `FILE` (default "+dataDefault(apps[0].Name)+")")
	pg := addPostgresFlags(fs)
	httpAddr := fs.String("http", "", "serve HTTP on this `ADDR` (host:port) instead of stdio, e.g. 127.0.0.1:8080 (port 0 picks one)")
	token := fs.String("token", "", "require Authorization: Bearer `TOKEN` on HTTP (default $MCP_SYNC_TOKEN)")
	httpLimits := addHTTPFlags(fs)
	authFlags := addAuthFlags(fs)
	delay := new(time.Duration)
	if slices.ContainsFunc(apps, func(a App) bool { return a.LocalAI }) {
		fs.DurationVar(delay, "ai-delay", 30*time.Millisecond, "pause between chunks of the built-in local AI stream")
	}
	verbose := fs.Bool("v", false, "log debug detail")
	allowDamaged := fs.Bool("allow-damaged-rows", false, "start on a data file some of whose rows fail their checksum (each is logged; reading one fails until it is rewritten or deleted)")
	startProfile := CPUProfileFlag(fs)
	limits := addLimitFlags(fs)
	pickApp := appFlag(fs, apps, "the app to serve: "+appList(apps, "; ", true))
	if code, ok := Parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "%s serve: unexpected argument %q\n", prog, fs.Arg(0))
		return ExitUsage
	}
	app, err := pickApp()
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s serve: %v\n", prog, err)
		return ExitUsage
	}
	stopProfile, err := startProfile()
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s serve: %v\n", prog, err)
		return ExitFail
	}
	defer stopProfile()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	stderr := &SyncWriter{W: env.Stderr} // the engine logs from its own goroutines
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	fail := func(format string, a ...any) int {
		logger.Error(fmt.Sprintf(format, a...))
		return ExitFail
	}
	if *token == "" {
		*token = env.Getenv("MCP_SYNC_TOKEN")
	}
	dsn, pgSchema, err := pg.resolve(env.Getenv, *data)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s serve: %v\n", prog, err)
		return ExitUsage
	}
	path, onStore := "postgres", func(*backend.Options) {}
	if dsn != "" {
		onStore = postgresStorage(ctx, dsn, pgSchema, logger)
	} else if path, err = DataPath(*data, app.Name, env.Getenv); err != nil {
		return fail("%v", err)
	} else if err := PrepareDataDir(*data, path, env.Getenv); err != nil {
		return fail("%v", err)
	}

	// What the app says as it opens (the AI banner) waits until the server
	// starts, so a failure's cause is the first thing printed.
	banner := &bytes.Buffer{}
	cfg, opts, closeApp, err := app.Open(&Environ{Stdout: banner, Stderr: banner, Getenv: env.Getenv}, *delay)
	if err != nil {
		return fail("%v", err)
	}
	defer closeApp()
	opts.Logger = logger
	hopts := tools.HTTPOptions{Token: *token}
	httpLimits(&hopts, &opts)
	if err := authFlags(&hopts, &opts, *token, *httpAddr); err != nil {
		fmt.Fprintf(env.Stderr, "%s serve: %v\n", prog, err)
		return ExitUsage
	}
	bopts := limits.apply(backend.Options{Path: path, Logger: logger, AllowDamagedRows: *allowDamaged}, &opts)
	onStore(&bopts)
	eng, err := backend.Open(cfg, bopts)
	if err != nil {
		return fail("%v", err)
	}
	defer eng.Close()
	srv, err := tools.New(eng, opts)
	if err != nil {
		return fail("%v", err)
	}
	defer srv.Close()
	_, _ = stderr.Write(banner.Bytes())

	if *httpAddr == "" {
		logger.Info("serving MCP on stdio", "app", app.Name, "data", path)
		// Handlers see the user running the server as the caller.
		if err := srv.ServeStdio(tools.WithLocalIdentity(ctx), os.Stdin, env.Stdout); err != nil {
			return fail("%v", err)
		}
		return ExitOK
	}
	err = srv.ServeHTTP(ctx, *httpAddr, hopts, func(base string) {
		logger.Info("serving MCP over HTTP", "url", base+tools.PathStreamable, "sse", base+tools.PathSSE,
			"app", app.Name, "data", path, "token", *token != "", "oauth", opts.Auth != nil)
	})
	if err != nil {
		return fail("%v", err)
	}
	return ExitOK
}

// CPUProfileFlag adds --cpuprofile to fs. The start it returns, called
// after parsing, profiles the process into the file named until stop runs;
// without the flag both do nothing.
func CPUProfileFlag(fs *flag.FlagSet) (start func() (stop func(), err error)) {
	path := fs.String("cpuprofile", "", "write a CPU profile to `FILE` until the server stops (for tuning)")
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
