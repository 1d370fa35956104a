package tools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestUnclassifiedErrorsStayInTheLog: an error the engine did not classify
// (a storage failure naming the data file, say) reaches the client as a
// reference only; the detail is in the log under it.
func TestUnclassifiedErrorsStayInTheLog(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	err := fmt.Errorf("storage: commit to /srv/data/secret-place.db: %w", errors.New("no space left on device"))
	res := s.errorResult(context.Background(), "mutator", "setTodo", err)
	got := fmt.Sprint(res.Content)
	if strings.Contains(got, "/srv/data") || !strings.Contains(got, "internal error (ref ") {
		t.Errorf("the client sees %s", got)
	}
	ref := strings.SplitN(strings.SplitN(got, "(ref ", 2)[1], ")", 2)[0]
	if l := logs.String(); !strings.Contains(l, "ref="+ref) || !strings.Contains(l, "/srv/data/secret-place.db") {
		t.Errorf("the log lacks the detail under ref %s: %s", ref, l)
	}
	if k := res.Meta.AdditionalFields["io.github.mcp-sync/error"]; fmt.Sprint(k) != "map[kind:internal]" {
		t.Errorf("kind = %v", k)
	}
}
