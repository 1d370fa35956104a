package storage_test

import (
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// TestDescribeProblem: a check report's line names a table, or a store
// part in brackets as it is, then the key quoted short, then the problem.
func TestDescribeProblem(t *testing.T) {
	for _, tc := range []struct{ table, key, what, want string }{
		{"todos", "k1", "checksum mismatch", `table todos: key "k1": checksum mismatch`},
		{"[change log]", "", "versions 2 to 2 are missing", "[change log]: versions 2 to 2 are missing"},
		{"", "", "not a data file", "not a data file"},
	} {
		if got := storage.DescribeProblem(tc.table, tc.key, tc.what); got != tc.want {
			t.Errorf("DescribeProblem(%q, %q, %q) = %q, want %q", tc.table, tc.key, tc.what, got, tc.want)
		}
	}
	long := strings.Repeat("k", 10_000)
	if got := storage.DescribeProblem("a", long, "x"); len(got) > 200 || !strings.HasPrefix(got, `table a: key "kkk`) {
		t.Errorf("a 10,000-byte key: %d bytes, %.40q…", len(got), got)
	}
}
