package bolt

import (
	"fmt"

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
	if p.Page != 0 {
		return fmt.Sprintf("page %d: %s", p.Page, storage.DescribeProblem(p.Table, p.Key, p.What))
	}
	return storage.DescribeProblem(p.Table, p.Key, p.What)
}
