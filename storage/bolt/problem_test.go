package bolt

import "testing"

// TestProblemString: a problem on a page names the page first.
func TestProblemString(t *testing.T) {
	p := Problem{Page: 7, Table: "todos", Key: "k", What: "checksum mismatch"}
	if got, want := p.String(), `page 7: table todos: key "k": checksum mismatch`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	p.Page = 0
	if got, want := p.String(), `table todos: key "k": checksum mismatch`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
