package tools

import (
	"context"
	"strconv"
	"strings"

	"github.com/mcp-sync/mcp-sync/backend"
)

// Private tables (schema.Private) and runs give one URI a different meaning
// per user: mcpsync://…/notes/a is alice's row "a" to alice and bob's to
// bob, and a run URI's notifications are only its caller's. So the
// registry keys what it shares across clients by owner as well as URI: who
// watches a URI (byURI, by scopeKey of the URI), the engine feed behind it
// (watchers, by scopeKey of the table, each feed opened as its owner so
// that it carries only that owner's changes, and with it the priors
// patches are made from), and the encodings of notices (noticeKey.owner; a
// oneEvent serves one mark of one owner's feed). A client's own maps stay
// by URI: a client is one session or stream, which acts as one caller.
//
// The owner of a private table's URI is the caller's (backend.Engine.Owner);
// of a run's, the caller's backend.Identity.Owner, whose run feed the
// engine filters to that owner's runs (callers without identity, server
// code, share the unfiltered one). Every other URI has the owner "", and
// its keys are the URI or table itself.

// scopeKey names s as owner sees it: s itself when owner is "", else a
// form no URI or table name takes (they never start with a NUL), with the
// owner's length so that no two (owner, s) pairs meet.
func scopeKey(owner, s string) string {
	if owner == "" {
		return s
	}
	return "\x00" + strconv.Itoa(len(owner)) + ":" + owner + s
}

// splitScopeKey undoes scopeKey.
func splitScopeKey(k string) (owner, s string) {
	rest, ok := strings.CutPrefix(k, "\x00")
	if !ok {
		return "", k
	}
	n, rest, _ := strings.Cut(rest, ":")
	l, err := strconv.Atoi(n)
	if err != nil || l > len(rest) {
		return "", k
	}
	return rest[:l], rest[l:]
}

// ownerFor returns whose rows (or runs) table's URIs name for ctx's
// caller, and false when the caller may watch none (a private table
// without an identity, or a run feed for a subjectless one).
func (r *registry) ownerFor(ctx context.Context, table string) (string, bool) {
	if table == backend.RunsTable {
		id, ok := backend.IdentityFrom(ctx)
		if !ok {
			return "", true
		}
		return id.Owner(), id.Owner() != ""
	}
	owner, err := r.eng.Owner(ctx, table)
	return owner, err == nil
}

// feedContext is the context the registry's feed of table for owner is
// opened with: the owner's, so that the engine sends only its changes.
func feedContext(table, owner string) context.Context {
	ctx := context.Background() // the registry's own watch, for all its clients
	switch {
	case owner == "":
		return ctx
	case table == backend.RunsTable:
		return backend.WithIdentity(ctx, backend.Identity{Subject: owner})
	}
	return backend.WithOwner(ctx, owner)
}
