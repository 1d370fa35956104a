package tools_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
)

// auditNamesOwners checks the audit of the two-user tests (issue 21: "the
// audit names the caller of every write in the tests above"): every
// version that changed a row of the private table names a caller, and that
// caller owns the row (its stored key starts with the caller's owner
// prefix), whether the write came from a tool call, a push or a run. It
// returns how many such changes it checked.
func auditNamesOwners(t testing.TB, eng *backend.Engine, table string) int {
	t.Helper()
	n := 0
	eachHistory(t, eng, func(h backend.HistoryEntry) {
		for _, c := range h.Changes {
			if c.Table != table {
				continue
			}
			n++
			owner := backend.Identity{Subject: h.Cause.Subject, Local: h.Cause.Local}.Owner()
			if owner == "" {
				t.Errorf("v%d changed %s/%q and its audit entry names no caller: %+v", h.Version, c.Table, c.Key, h.Cause)
				continue
			}
			if prefix := strconv.Itoa(len(owner)) + ":" + owner; !strings.HasPrefix(c.Key, prefix) {
				t.Errorf("v%d changed %s/%q, not a row of the caller %q its audit entry names (%+v)", h.Version, c.Table, c.Key, owner, h.Cause)
			}
		}
	})
	if n == 0 {
		t.Errorf("the audit names no change of %s", table)
	}
	return n
}
