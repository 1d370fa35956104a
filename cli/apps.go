package cli

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
)

// App is an app a serve command can serve.
type App struct {
	Name   string
	About  string         // what it is, for --app's help; empty for the default
	Schema *schema.Schema // what check holds a data file's rows to
	// LocalAI says the app has a built-in AI stream, so serve offers
	// --ai-delay, the pause between its chunks.
	LocalAI bool
	// Open builds the app's config and server options; close releases what
	// it started. aiDelay is --ai-delay, for an app with a built-in AI
	// stream. What it prints to env is shown on stderr once serving starts.
	Open func(env *Environ, aiDelay time.Duration) (cfg backend.Config, opts tools.Options, close func(), err error)
}

// appFlag adds --app, described by usage, to fs when there is more than one
// app; without it the first app is the one. pick, called after parsing,
// returns the app chosen, or an error naming the apps there are.
func appFlag(fs *flag.FlagSet, apps []App, usage string) (pick func() (App, error)) {
	name := &apps[0].Name
	if len(apps) > 1 {
		name = fs.String("app", apps[0].Name, "`NAME` of "+usage)
	}
	return func() (App, error) {
		i := slices.IndexFunc(apps, func(a App) bool { return a.Name == *name })
		if i < 0 {
			return App{}, fmt.Errorf("unknown app %q (want %s)", *name, appList(apps, ", ", false))
		}
		return apps[i], nil
	}
}

// appList names apps, joined by sep; with about, each with its About.
func appList(apps []App, sep string, about bool) string {
	names := make([]string, len(apps))
	for i, a := range apps {
		names[i] = a.Name
		if about && a.About != "" {
			names[i] += " (" + a.About + ")"
		}
	}
	return strings.Join(names, sep)
}
