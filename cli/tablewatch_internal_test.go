package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestTableWatchPrintsWhatChanged: watching a table prints each changed row
// of its first page; a row that left the page because rows with lower keys
// came in is not reported deleted (it was, as the page then held more rows
// than one page), a row really gone is, and a key with control characters is
// printed quoted, never raw to the terminal.
func TestTableWatchPrintsWhatChanged(t *testing.T) {
	var out bytes.Buffer
	w := &tableWatch{env: &Environ{Stdout: &out}, last: map[string]string{}}
	w.show(`{"rows":[{"key":"b","value":{"n":1}},{"key":"c","value":{"n":1}}],"next":"c"}`, true)
	out.Reset()
	// "a" came in and pushed "c" off the (two-row) page; "c" still exists.
	w.show(`{"rows":[{"key":"a","value":{"n":1}},{"key":"b","value":{"n":1}}],"next":"b"}`, false)
	if got := out.String(); got != "a {\"n\":1}\n" {
		t.Errorf("after a row with a lower key came in, printed %q; want only the new row", got)
	}
	out.Reset()
	// "a" deleted: the page is the whole table now.
	w.show(`{"rows":[{"key":"b","value":{"n":1}}]}`, false)
	if got := out.String(); got != "a deleted\n" {
		t.Errorf("after a row was deleted, printed %q; want %q", got, "a deleted\n")
	}
	out.Reset()
	w.show(`{"rows":[{"key":"b","value":{"n":1}},{"key":"x\u001b[2J","value":{"n":1}}]}`, false)
	if got := out.String(); strings.ContainsRune(got, 0x1b) || !strings.Contains(got, `"x\x1b[2J"`) {
		t.Errorf("a key with an escape sequence printed as %q; want it quoted", got)
	}
}
