package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Identity is who is calling: set on the context of a call by the surface
// that authenticated it (the tools package from a validated OAuth token,
// the local user on stdio), and seen by mutators and actions through
// [IdentityFrom] on their ctx. A call whose context carries none is server
// code's (Go code holding the engine) and may do anything.
type Identity struct {
	// Subject is the caller: an OAuth token's sub, or the local user's name.
	Subject string `json:"subject"`
	// ClientID is the OAuth client the caller uses; empty when local.
	ClientID string `json:"clientId,omitempty"`
	// Scopes are the scopes the caller was granted.
	Scopes []string `json:"scopes,omitempty"`
	// Local is set for callers the server trusts with every scope: the
	// local user on stdio, and holders of the static HTTP token.
	Local bool `json:"local,omitempty"`
}

// HasScope reports whether the caller was granted scope (a Local caller
// has all).
func (id Identity) HasScope(scope string) bool {
	return id.Local || slices.Contains(id.Scopes, scope)
}

// LocalOwnerPrefix starts the owner of a Local caller (see
// [Identity.Owner]). No OAuth subject may start with it (the tools package
// refuses such a token), so a local user and a signed-in one never share
// rows or runs, whatever names an issuer hands out.
const LocalOwnerPrefix = "local:"

// Owner is whose private rows (schema.Private) and runs the caller reaches:
// its Subject, or for a Local caller LocalOwnerPrefix and its Subject (the
// static token's holder is "local:token", the stdio user "local:" and the
// login name). "" when there is no Subject.
func (id Identity) Owner() string {
	if id.Subject == "" {
		return ""
	}
	if id.Local {
		return LocalOwnerPrefix + id.Subject
	}
	return id.Subject
}

// Missing returns the first of scopes the caller lacks, or "".
func (id Identity) Missing(scopes []string) string {
	for _, s := range scopes {
		if !id.HasScope(s) {
			return s
		}
	}
	return ""
}

type identityKey struct{}

// WithIdentity returns ctx carrying id: the calls made with it run as id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity ctx carries; ok is false for server
// code's calls, which carry none. Inside a mutator or action, ctx is the
// handler's ctx.
func IdentityFrom(ctx context.Context) (id Identity, ok bool) {
	id, ok = ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// checkScopes refuses a call of the client-callable mutator or action
// what (named name) that requires scopes when ctx's caller lacks one.
// Calls from inside an action (ctx.Mutate, Act) are the server's own and
// pass: the caller was checked at the action's door.
func checkScopes(ctx context.Context, what, name string, scopes []string) error {
	if len(scopes) == 0 {
		return nil
	}
	if _, inAction := ActionFrom(ctx); inAction {
		return nil
	}
	id, ok := IdentityFrom(ctx)
	if !ok {
		return nil
	}
	if s := id.Missing(scopes); s != "" {
		return withKind(ErrForbidden, what+" "+name, fmt.Errorf("calling it needs the scope %q, which your access token does not grant: "+
			"ask the authorization server for a token with that scope", s))
	}
	return nil
}

// ErrForbidden: the caller lacks a scope the mutator or action requires
// (schema.Scopes); the message names the scope. Nothing ran.
var ErrForbidden = errors.New("forbidden")
