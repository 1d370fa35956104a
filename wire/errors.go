package wire

// ErrorMetaKey is the _meta key of a failed call's result that says what
// kind of failure it was, for programs that must tell them apart; its value
// is an [ErrorMeta].
const ErrorMetaKey = "io.github.mcp-sync/error"

// ErrorMeta is the value under [ErrorMetaKey]: {"kind": "<ErrorKind>"}.
type ErrorMeta struct {
	Kind ErrorKind `json:"kind"`
}

// ErrorKind classifies a failed tool call. A client that meets a kind it
// does not know should treat it as [KindHandler]: new kinds may be added.
type ErrorKind string

// The kinds of failure a server reports.
const (
	// KindInvalidInput: the arguments do not match the tool's inputSchema;
	// nothing was written. The message names the field.
	KindInvalidInput ErrorKind = "invalid_input"
	// KindHandler: the app's mutator or action returned an error; the
	// message is the app's.
	KindHandler ErrorKind = "handler"
	// KindInvalidOutput: an action's output broke its declared
	// outputSchema (a server bug).
	KindInvalidOutput ErrorKind = "invalid_output"
	// KindUnknown: no such tool, mutator, table or run.
	KindUnknown ErrorKind = "unknown"
	// KindUnavailable: the server is shutting down, or its database cannot
	// be reached; call again once it is back (the message says whether a
	// write may have happened).
	KindUnavailable ErrorKind = "unavailable"
	// KindCancelled: the call was cancelled or ran out of time.
	KindCancelled ErrorKind = "cancelled"
	// KindInternal: the server failed; the message carries only a reference
	// id the server's log holds the detail under.
	KindInternal ErrorKind = "internal"
	// KindBusy: every action slot and the wait queue were taken; retry
	// shortly.
	KindBusy ErrorKind = "busy"
	// KindDamaged: a stored row failed its checksum or is not JSON; the
	// message names it.
	KindDamaged ErrorKind = "damaged"
	// KindForbidden: the caller's access token lacks a scope the tool
	// requires; the message names it. Nothing ran.
	KindForbidden ErrorKind = "forbidden"
)
