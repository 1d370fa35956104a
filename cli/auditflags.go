package cli

import (
	"flag"

	"github.com/mcp-sync/mcp-sync/backend"
)

// addAuditFlags adds serve's audit flags to fs; apply, called after
// parsing, sets them on the engine's options.
func addAuditFlags(fs *flag.FlagSet) (apply func(o *backend.Options)) {
	scope := fs.String("audit-admin-scope", backend.DefaultAuditAdminScope,
		"the OAuth `SCOPE` that lets a caller read every caller's history (list_history, mcp-sync log); others read their own")
	retention := fs.Int("audit-retention", 100000, "how many of the newest versions the audit keeps records of (`N`)")
	return func(o *backend.Options) {
		o.AuditAdminScope = *scope
		o.AuditRetention = max(*retention, 1)
	}
}
