package cli

import (
	"flag"
	"fmt"

	"github.com/mcp-sync/mcp-sync/backend"
)

// addAuditFlags adds serve's audit flags to fs. check, called after
// parsing, refuses values out of range; apply sets them on the engine's
// options.
func addAuditFlags(fs *flag.FlagSet) (check func() error, apply func(o *backend.Options)) {
	scope := fs.String("audit-admin-scope", backend.DefaultAuditAdminScope,
		"the OAuth `SCOPE` that lets a caller read every caller's history (list_history, mcp-sync log); others read their own")
	retention := fs.Int("audit-retention", 100000, "how many of the newest versions the audit keeps records of (`N`, at least 1)")
	check = func() error {
		if *retention < 1 {
			// Not 0 for "no limit", as other flags: the audit has none.
			return fmt.Errorf("--audit-retention is %d; it must be at least 1 (how many of the newest versions the audit keeps)", *retention)
		}
		return nil
	}
	return check, func(o *backend.Options) {
		o.AuditAdminScope = *scope
		o.AuditRetention = *retention
	}
}
