package cli

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/tools"
)

// Option adjusts the program [New] builds for an app.
type Option func(*options)

type options struct {
	prog, app, version, tagline, serveAbout string
	server                                  tools.Options
	setup                                   func(env *Environ, aiDelay time.Duration) (backend.Config, tools.Options, func(), error)
	extra                                   []Command
	localAI                                 bool
}

// WithName names the program (what the user types; default: the name the
// binary was run by) and, unless [WithAppName] says otherwise, the app.
func WithName(prog string) Option { return func(o *options) { o.prog = prog } }

// WithAppName names the app: in logs, and its default data file
// $XDG_DATA_HOME/mcp-sync/NAME.db. Default: the program's name.
func WithAppName(name string) Option { return func(o *options) { o.app = name } }

// WithVersion gives the app's version, shown in the help's first line.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithTagline is the help's first line after the name: what the app is.
func WithTagline(s string) Option { return func(o *options) { o.tagline = s } }

// WithServeHelp replaces the serve command's description in its --help.
func WithServeHelp(about string) Option { return func(o *options) { o.serveAbout = about } }

// WithServerOptions are the MCP server's options (its name, instructions,
// limits); serve's flags and logger are set over them.
func WithServerOptions(so tools.Options) Option { return func(o *options) { o.server = so } }

// WithSetup builds the app's config and server options when serve starts,
// instead of the config passed to [New] and [WithServerOptions]: for an app
// that needs the environment (an AI key, say) or starts something it must
// close. The schema and check commands still use the schema of New's config. aiDelay
// is serve's --ai-delay. What f prints to the Environ's Stdout or Stderr is
// shown on stderr once the server has started (stdout may carry the
// protocol, and a failure to start is printed first).
func WithSetup(f func(env *Environ, aiDelay time.Duration) (backend.Config, tools.Options, func(), error)) Option {
	return func(o *options) { o.setup = f }
}

// WithLocalAI says the app's setup starts a built-in AI stream, so serve
// offers --ai-delay, the pause between its chunks, and passes it to setup.
func WithLocalAI() Option { return func(o *options) { o.localAI = true } }

// WithCommands adds commands of the app's own, listed after the standard ones.
func WithCommands(cmds ...Command) Option {
	return func(o *options) { o.extra = append(o.extra, cmds...) }
}

// appCmds are the standard commands of one app's program.
type appCmds struct {
	prog string
	app  App
}

// New builds the program of an app whose config is cfg: serve, tools, call,
// watch, schema and check, and the commands [WithCommands] adds.
func New(cfg backend.Config, opts ...Option) Program {
	o := options{prog: filepath.Base(os.Args[0])}
	for _, f := range opts {
		f(&o)
	}
	if o.app == "" {
		o.app = o.prog
	}
	if o.server.Name == "" {
		o.server.Name = o.app
	}
	app := App{Name: o.app, Schema: cfg.Schema, Open: o.setup, LocalAI: o.localAI}
	if app.Open == nil {
		app.Open = func(*Environ, time.Duration) (backend.Config, tools.Options, func(), error) {
			return cfg, o.server, func() {}, nil
		}
	}
	a := &appCmds{prog: o.prog, app: app}
	name := o.prog
	if o.version != "" {
		name += " " + o.version
	}
	tagline := name
	if o.tagline != "" {
		tagline += ": " + o.tagline
	}
	about := o.serveAbout
	if about == "" {
		about = "Serves the app over MCP: every mutator and action is a tool and every table\n" +
			"a resource, but for internal mutators and actions and server-only tables.\n" +
			"stdio by default (register it in Claude or an IDE as a command);\n" +
			"with --http, streamable HTTP at /mcp and SSE at /sse on that address.\n" +
			"Logs go to stderr; in stdio mode stdout carries only the protocol."
	}
	apps := []App{app}
	return Program{Name: o.prog, Tagline: tagline, Commands: append([]Command{
		{Name: "serve", Summary: "serve the app over MCP (stdio, or streamable HTTP and SSE with --http)",
			Run: func(ctx context.Context, env *Environ, args []string) int {
				return Serve(ctx, env, o.prog, about, apps, args)
			}},
		{Name: "tools", Summary: "list a server's tools with their schemas", Run: a.tools},
		{Name: "call", Summary: "call a tool and print its result, with progress", Run: a.call},
		{Name: "watch", Summary: "print a table's or a row's changes live", Run: a.watch},
		{Name: "schema", Summary: "print the app's tables, mutators and actions with their JSON Schemas", Run: a.schema},
		{Name: "log", Summary: "print the audit: which caller, tool or run committed each version, and the rows it changed", Run: a.log},
		{Name: "check", Summary: "check a data file (pages, checksums, JSON, schemas) without changing it; exit 0 only when intact",
			Run: func(ctx context.Context, env *Environ, args []string) int {
				return Check(ctx, env, o.prog, apps, args)
			}},
	}, o.extra...)}
}

// Main runs the program [New] builds on the process's arguments, stdio and
// environment, and exits with the command's code. An app's main is
//
//	func main() { cli.Main(myapp.Config(), cli.WithName("myapp")) }
func Main(cfg backend.Config, opts ...Option) { New(cfg, opts...).Main() }
