package cli

import (
	"flag"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/tools"
)

// httpFlags are serve's limits for HTTP and sessions.
type httpFlags struct {
	maxBody         int64
	maxConns        int
	maxSessions     int
	maxStreams      int
	maxSubs         int
	origins         originList
	insecureNoToken bool
}

// addHTTPFlags adds the HTTP and session limit flags to fs, and
// --strict-schemas (which applies on every transport, stdio too); apply,
// called after parsing, sets them on the options.
func addHTTPFlags(fs *flag.FlagSet) (apply func(*tools.HTTPOptions, *tools.Options)) {
	var f httpFlags
	fs.Int64Var(&f.maxBody, "max-body", tools.DefaultMaxBodyBytes, "largest HTTP request body in bytes; a larger one gets 413; 0: no limit")
	bodyTimeout := fs.Duration("body-timeout", tools.DefaultBodyReadTimeout, "time a request body may take to arrive; a slower one gets 408; 0: no limit")
	idleTimeout := fs.Duration("idle-timeout", tools.DefaultIdleTimeout, "close keep-alive connections idle this long (open streams are not idle); 0: never")
	fs.IntVar(&f.maxConns, "max-conns", tools.DefaultMaxConns, "most HTTP connections open at once; more wait to be accepted; 0: no limit")
	fs.IntVar(&f.maxSessions, "max-sessions", tools.DefaultMaxSessions, "most sessions held at once (streamable HTTP and SSE); a new one beyond gets 503; 0: no limit")
	fs.IntVar(&f.maxStreams, "max-streams", tools.DefaultMaxStreamsPerSession, "most GET streams one streamable HTTP session may hold open; 0: no limit")
	fs.IntVar(&f.maxSubs, "max-subscriptions", tools.DefaultMaxSubscriptionsPerSession, "most resource subscriptions per session (and URIs per subscriptions/listen); 0: no limit")
	maxSubsTotal := fs.Int("max-subscriptions-total", tools.DefaultMaxSubscriptions, "most resource subscriptions the server holds across all sessions and listen streams; 0: no limit")
	fs.Var(&f.origins, "allow-origin", "a browser `ORIGIN` (scheme://host[:port]) allowed besides local ones; repeat it or separate with commas")
	fs.BoolVar(&f.insecureNoToken, "insecure-no-token", false, "serve an address other machines can reach without a token (anyone there could read and change all data)")
	strict := fs.Bool("strict-schemas", false, "publish tool input schemas in OpenAI strict form (every property required, optional ones nullable, no additional properties at any level), "+
		"for hosts that forward them with strict: true; calls are still checked against the declared schemas, and a null argument counts as absent")
	return func(o *tools.HTTPOptions, opts *tools.Options) {
		opts.StrictSchemas = *strict
		o.MaxBodyBytes, o.BodyReadTimeout, o.IdleTimeout = none(f.maxBody), none(*bodyTimeout), none(*idleTimeout)
		o.MaxConns, o.MaxSessions, o.MaxStreamsPerSession = none(f.maxConns), none(f.maxSessions), none(f.maxStreams)
		o.AllowedOrigins, o.InsecureNoToken = f.origins, f.insecureNoToken
		opts.MaxSubscriptionsPerSession, opts.MaxSubscriptions = none(f.maxSubs), none(*maxSubsTotal)
	}
}

// none turns a flag's 0 ("no limit") into the options' negative; the
// options read 0 as "the default".
func none[T int | int64 | time.Duration](v T) T {
	if v <= 0 {
		return -1
	}
	return v
}

// originList is a repeatable, comma-separated flag.
type originList []string

func (l *originList) String() string { return strings.Join(*l, ",") }

func (l *originList) Set(v string) error {
	for o := range strings.SplitSeq(v, ",") {
		if o = strings.TrimSpace(o); o != "" {
			*l = append(*l, o)
		}
	}
	return nil
}
