package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/mcp-sync/mcp-sync/storage"
)

// The audit: every version the engine commits records its cause (who
// called, through which session and tool, or which run), when, and the
// rows it changed (storage.Store.Audit keeps them). [Engine.History]
// reads it back, each caller its own entries, an admin all of them.

// DefaultAuditAdminScope is the scope that lets a caller read every
// caller's history (Options.AuditAdminScope).
const DefaultAuditAdminScope = "mcp-sync:admin"

// CallInfo is what the surface serving a call knows of it beyond the
// caller ([Identity]): the MCP session and the tool called. The tools
// package puts it on each call's context ([WithCallInfo]); the audit
// records it with every write the call makes.
type CallInfo struct {
	Session string
	Tool    string
}

type callInfoKey struct{}

// WithCallInfo returns ctx carrying ci: the writes made with it are
// audited as made through ci's session and tool.
func WithCallInfo(ctx context.Context, ci CallInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, ci)
}

// CallInfoFrom returns the call info ctx carries, if any.
func CallInfoFrom(ctx context.Context) (CallInfo, bool) {
	ci, ok := ctx.Value(callInfoKey{}).(CallInfo)
	return ci, ok
}

// Cause is why a version was committed, as the audit records it. Empty
// fields were not known: a Cause with no Subject is server code's (or an
// enqueued run's bookkeeping).
type Cause struct {
	// Subject is the caller (Identity.Subject; one over 256 bytes as its
	// start, "#" and its SHA-256 in hex); ClientID its OAuth client.
	Subject  string `json:"sub,omitempty"`
	ClientID string `json:"cid,omitempty"`
	// Local is set for a local caller (stdio, the static HTTP token).
	Local bool `json:"loc,omitempty"`
	// Session is the MCP session the call came through; Tool the tool it
	// called.
	Session string `json:"ses,omitempty"`
	Tool    string `json:"tool,omitempty"`
	// Mutator is the mutator that made the version, if one did.
	Mutator string `json:"mut,omitempty"`
	// Action is the action whose ctx.Mutate made it, and Run the enqueued
	// run (or task) executing that action ("" for a direct call).
	Action string `json:"act,omitempty"`
	Run    string `json:"run,omitempty"`
}

// maxCauseField bounds each field of a recorded cause. Escaping can make
// a field's JSON up to six times its bytes, so audited drops fields when it
// must: a long subject or session id never pushes a record past
// storage.MaxCauseSize and fails the write it records.
const maxCauseField = 256

type runCauseKey struct{}

// withRunCause marks ctx's writes as the bookkeeping of run id (its
// claim, its outcome), when no action call is on ctx to say so.
func withRunCause(ctx context.Context, id, action string) context.Context {
	return context.WithValue(ctx, runCauseKey{}, [2]string{id, action})
}

// causeOf is the cause of a write made with ctx by mutator ("" for the
// engine's own writes).
func causeOf(ctx context.Context, mutator string) Cause {
	c := Cause{Mutator: mutator}
	if id, ok := IdentityFrom(ctx); ok {
		c.Subject, c.ClientID, c.Local = causeSubject(id.Subject), id.ClientID, id.Local
	}
	if ci, ok := CallInfoFrom(ctx); ok {
		c.Session, c.Tool = ci.Session, ci.Tool
	}
	if ac, ok := ActionFrom(ctx); ok {
		c.Action, c.Run = ac.name, ac.runID
	} else if r, ok := ctx.Value(runCauseKey{}).([2]string); ok {
		c.Run, c.Action = r[0], r[1]
	}
	for _, f := range []*string{&c.ClientID, &c.Session, &c.Tool, &c.Mutator, &c.Action, &c.Run} {
		*f = cutField(*f, maxCauseField)
	}
	return c
}

// causeSubject is how the audit records subject, by which History tells a
// caller's own entries: whole when it fits in maxCauseField bytes; else
// its start and the SHA-256 of all of it, longer than maxCauseField so
// that no subject recorded whole reads as it. Cut short alone, a long
// subject would read as another's that it starts with (that caller would
// see its entries) and as none of its own.
func causeSubject(subject string) string {
	if len(subject) <= maxCauseField {
		return subject
	}
	sum := sha256.Sum256([]byte(subject))
	return cutField(subject, maxCauseField-56) + "#" + hex.EncodeToString(sum[:])
}

// cutField cuts s to at most n bytes, at a rune boundary.
func cutField(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// audited returns ctx carrying the cause of the writes it is used for
// (see causeOf), which the store records with each version. A client's
// replica keeps no audit.
func (e *Engine) audited(ctx context.Context, mutator string) context.Context {
	if e.opts.Replica {
		return ctx
	}
	c := causeOf(ctx, mutator)
	b, err := json.Marshal(c)
	if err == nil && len(b) > storage.MaxCauseSize {
		// Only names full of characters JSON escapes (6 bytes each) get here:
		// the issuer's client id is kept as a digest, and the session and
		// tool go, rather than fail the write the record is for.
		c.ClientID = digestField(c.ClientID)
		c.Session, c.Tool = "", ""
		b, err = json.Marshal(c)
	}
	if err != nil || len(b) > storage.MaxCauseSize { // the subject alone always fits
		return ctx
	}
	return storage.WithCause(ctx, b)
}

// digestField is s as "#" and the start of its SHA-256 in hex: short,
// plain ASCII, and the same for the same s.
func digestField(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return "#" + hex.EncodeToString(sum[:16])
}

// update is store.Update for the engine's own writes, audited with ctx's
// cause.
func (e *Engine) update(ctx context.Context, fn func(tx *storage.WriteTx) error) (uint64, error) {
	return e.store.Update(e.audited(ctx, ""), fn)
}

// HistoryEntry is one version of the audit as a caller may see it.
type HistoryEntry struct {
	Version uint64
	Time    time.Time
	Cause   Cause
	// Changes are the rows the version changed that the caller may see.
	Changes []HistoryChange
	// Hidden counts the version's other changes: to tables the caller
	// may not read, or past those the audit lists.
	Hidden int
}

// HistoryChange is one row a version changed.
type HistoryChange struct {
	Table string
	// Key is the row's key; Cut is set when it is only its first
	// storage.MaxAuditKey bytes.
	Key string
	Cut bool
	// Op is "put" or "delete".
	Op string
}

// HistoryOptions select a page of [Engine.History].
type HistoryOptions struct {
	// After is the cursor: versions after it (before it with Reverse; 0
	// then means from the newest). Pass the previous page's next.
	After uint64
	// Reverse reads from the newest down.
	Reverse bool
	// Limit is the page size: 0 means 100; more than 1000 is refused.
	Limit int
}

// History returns a page of the audit as ctx's caller may see it (see
// historyView): the entries of the versions it caused, or, for an admin
// (server code, a local caller, or one holding Options.AuditAdminScope),
// every entry. next is the cursor of the next page, 0 when there is none
// yet. A page may be short, or empty, and still have a next: one read
// passes over at most storage.MaxAuditScan entries of other callers.
func (e *Engine) History(ctx context.Context, o HistoryOptions) (entries []HistoryEntry, next uint64, err error) {
	if o.Limit < 0 || o.Limit > storage.MaxAuditLimit {
		return nil, 0, withKind(ErrInvalidInput, "history", fmt.Errorf("limit %d is out of range: 0 (the default, %d) to %d", o.Limit, storage.DefaultAuditLimit, storage.MaxAuditLimit))
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	_, next, err = e.store.Audit(storage.AuditQuery{From: o.After, Reverse: o.Reverse, Limit: o.Limit,
		Keep: func(a *storage.AuditEntry) bool {
			h, ok := e.historyView(ctx, a)
			if ok {
				entries = append(entries, h)
			}
			return ok
		}})
	if err != nil {
		return nil, 0, e.storageFailure("history", err)
	}
	return entries, next, nil
}

// historyView is the one place that decides what ctx's caller sees of an
// audit entry, and whether it sees it at all. An admin sees every entry
// whole. Any other caller sees only the entries whose cause is its own
// subject (recorded whole: a subject over maxCauseField bytes reads none), and of those only what a client may know: changes to tables
// clients read (others are counted in Hidden, never named), and no name
// of an internal mutator or action, nor the run of an internal action.
func (e *Engine) historyView(ctx context.Context, a *storage.AuditEntry) (HistoryEntry, bool) {
	h := HistoryEntry{Version: a.Version, Time: a.Time, Hidden: a.More}
	if json.Unmarshal(a.Cause, &h.Cause) != nil {
		h.Cause = Cause{} // not the engine's: server code's, for admins only
	}
	id, ok := IdentityFrom(ctx)
	admin := !ok || id.Local || id.HasScope(e.opts.AuditAdminScope)
	if !admin && (h.Cause.Subject == "" || h.Cause.Subject != causeSubject(id.Subject) || h.Cause.Local) {
		return HistoryEntry{}, false
	}
	if !admin {
		if m, found := e.cfg.Schema.Mutator(h.Cause.Mutator); !found || m.Internal {
			h.Cause.Mutator = ""
		}
		if act, found := e.cfg.Schema.Action(h.Cause.Action); !found || act.Internal {
			h.Cause.Action, h.Cause.Run = "", ""
		}
	}
	h.Changes = make([]HistoryChange, 0, len(a.Changes))
	for _, c := range a.Changes {
		key := c.Key
		if !admin {
			if t, found := e.cfg.Schema.Table(c.Table); !found || t.ServerOnly {
				h.Hidden++
				continue
			}
			var visible bool
			if key, visible = e.historyKey(c.Table, c.Key, id.Owner()); !visible {
				h.Hidden++ // another user's private row (written with Table.Of)
				continue
			}
		}
		h.Changes = append(h.Changes, HistoryChange{Table: c.Table, Key: key, Cut: c.Cut, Op: c.Op.String()})
	}
	return h, true
}
