package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/relay"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// Serve is the serve command of prog: it serves apps[0], or with more than
// one app the one --app names. about is the command's help text. Unless
// the environment sets GOGC, it sets the garbage collector's target after
// every collection while it serves: the live heap plus 64 MB, at most 400%
// and at least Go's default of 100%.
func Serve(ctx context.Context, env *Environ, prog, about string, apps []App, args []string) int {
	fs := NewFlags(env, prog, "serve", "serve [flags]", about)
	data := fs.String("data", "", "data `FILE` (default "+dataDefault(apps[0].Name)+")")
	pg := addPostgresFlags(fs)
	noRuns := fs.Bool("no-runs", false, "run no enqueued actions in this server (they wait for one that runs them): for a server that only reads, such as the one the log command starts for --postgres")
	runLease := fs.Duration("run-lease", 30*time.Second, "with --postgres: how long this server's hold on the action runs it took lasts unless renewed (every third of it); a server that dies has its runs taken over by another once it lapses (at least 1s)")
	httpAddr := fs.String("http", "", "serve HTTP on this `ADDR` (host:port) instead of stdio, e.g. 127.0.0.1:8080 (port 0 picks one)")
	token := fs.String("token", "", "require Authorization: Bearer `TOKEN` on HTTP (default $MCP_SYNC_TOKEN)")
	httpLimits := addHTTPFlags(fs)
	authFlags := addAuthFlags(fs)
	checkAudit, auditFlags := addAuditFlags(fs)
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
	if env.Getenv("GOGC") == "" { // else the runtime has applied it
		defer StartGCTuner()()
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "%s serve: unexpected argument %q\n", prog, fs.Arg(0))
		return ExitUsage
	}
	if err := checkAudit(); err != nil {
		fmt.Fprintf(env.Stderr, "%s serve: %v\n", prog, err)
		return ExitUsage
	}
	if *runLease < time.Second {
		fmt.Fprintf(env.Stderr, "%s serve: --run-lease is %v; it must be at least 1s (the hold is renewed every third of it)\n", prog, *runLease)
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
	hopts := tools.HTTPOptions{Token: *token}
	var authOpts tools.Options // the verifier, checked before anything opens
	if err := authFlags(&hopts, &authOpts, authEnv{token: *token, httpAddr: *httpAddr, getenv: env.Getenv, logger: logger}); err != nil {
		fmt.Fprintf(env.Stderr, "%s serve: %v\n", prog, err)
		return ExitUsage
	}
	// On PostgreSQL every server is a replica of its own: no file to share,
	// so no socket (sock stays "").
	path, sock, onStore := "postgres", "", func(*backend.Options) {}
	if dsn != "" {
		onStore = postgresStorage(ctx, dsn, pgSchema, logger)
	} else {
		if path, err = DataPath(*data, app.Name, env.Getenv); err != nil {
			return fail("%v", err)
		}
		if err := PrepareDataDir(*data, path, env.Getenv); err != nil {
			return fail("%v", err)
		}
		if sock, err = relay.SocketPath(path, ""); err != nil {
			return fail("%v", err)
		}
	}
	spec := ownerSpec{app: app, env: env, delay: *delay, logger: logger, stderr: stderr, sock: sock,
		backend: func(opts *tools.Options) backend.Options {
			httpLimits(&hopts, opts)
			opts.Auth = authOpts.Auth
			bopts := limits.apply(backend.Options{Path: path, Logger: logger, AllowDamagedRows: *allowDamaged, RunLease: *runLease, NoRuns: *noRuns}, opts)
			auditFlags(&bopts)
			onStore(&bopts)
			return bopts
		}}
	if *httpAddr != "" {
		// An HTTP server owns the file too, and lets stdio servers on it
		// relay to it; it waits for the lock as long as ever.
		ow, err := spec.open(0)
		if err != nil {
			return fail("%v", err)
		}
		defer ow.shut()
		err = ow.srv.ServeHTTP(ctx, *httpAddr, hopts, func(base string) {
			logger.Info("serving MCP over HTTP", "url", base+tools.PathStreamable, "sse", base+tools.PathSSE,
				"app", app.Name, "data", path, "token", *token != "", "oauth", authOpts.Auth != nil,
				"role", "owner", "socket", sock, "pid", os.Getpid())
		})
		if err != nil {
			return fail("%v", err)
		}
		return ExitOK
	}
	var ow *owner
	if sock == "" {
		ow, err = spec.open(0)
	} else {
		ow, err = spec.ownerOrRelay(ctx, 10*time.Second)
	}
	if err != nil {
		return fail("%v", err)
	}
	if ow != nil {
		defer ow.shut()
		logger.Info("serving MCP on stdio", "app", app.Name, "data", path, "role", "owner", "socket", sock, "pid", os.Getpid())
		// Handlers see the user running the server as the caller.
		if err := ow.srv.ServeStdio(tools.WithLocalIdentity(ctx), os.Stdin, env.Stdout); err != nil {
			return fail("%v", err)
		}
		return ExitOK
	}
	// Another process owns the file: this one relays its host's session
	// there, and takes the file over if that process goes away.
	takeOver, held := spec.relayTakeOver()
	defer func() {
		if ow := held(); ow != nil {
			ow.shut()
		}
	}()
	logger.Info("serving MCP on stdio, relayed to the data file's owner", "app", app.Name, "data", path,
		"role", "relay", "socket", sock, "owner_pid", relay.PeerPID(sock))
	err = relay.Run(ctx, relay.Config{In: os.Stdin, Out: env.Stdout, Logger: logger, TakeOver: takeOver,
		ReadTools:    []string{wire.ToolGetRow, wire.ToolListRows, wire.ToolGetRun, wire.ToolListHistory, wire.ToolSyncChanges, wire.ToolSyncState},
		LostCallMeta: map[string]any{wire.ErrorMetaKey: wire.ErrorMeta{Kind: wire.KindUnavailable}},
		Dial:         func(ctx context.Context) (net.Conn, error) { return relay.Dial(ctx, sock) }})
	if err != nil {
		return fail("%v", err)
	}
	return ExitOK
}

// CPUProfileFlag adds --cpuprofile to fs. The start it returns, called
// after parsing, profiles the process into the file named until stop runs;
// without the flag both do nothing.
func CPUProfileFlag(fs *flag.FlagSet) (start func() (stop func(), err error)) {
	path := fs.String("cpuprofile", "", "write a CPU profile of this process to `FILE` until it ends (for tuning)")
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
