package bolt

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/mcp-sync/mcp-sync/storage"
)

// Problem is one thing wrong with a data file, as [Check] reports it.
type Problem struct {
	// Table is the table concerned, or a store bucket in brackets
	// ("[change log]", "[meta]"); empty for the file as a whole.
	Table string
	// Key is the row concerned, if one is.
	Key string
	// Page is the bbolt page concerned (0: none).
	Page uint64
	// What is wrong.
	What string
}

// String names where the problem is and what it is.
func (p Problem) String() string {
	var b bytes.Buffer
	if p.Page != 0 {
		fmt.Fprintf(&b, "page %d: ", p.Page)
	}
	switch {
	case strings.HasPrefix(p.Table, "["):
		fmt.Fprintf(&b, "%s: ", p.Table)
	case p.Table != "":
		fmt.Fprintf(&b, "table %s: ", p.Table)
	}
	if p.Key != "" {
		fmt.Fprintf(&b, "key %q: ", storage.ShortKey(p.Key))
	}
	b.WriteString(p.What)
	return b.String()
}
