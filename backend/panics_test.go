package backend_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
)

func TestPanicsReachCallersAsAReference(t *testing.T) {
	e, _, logs := openJobApp(t, filepath.Join(t.TempDir(), "h.db"))
	_, err := e.Act(t.Context(), "job", mustJSON(JobIn{ID: "p", Mode: "panic"}))
	if backend.KindOf(err) != backend.ErrInternal {
		t.Fatalf("err = %v (kind %v), want internal", err, backend.KindOf(err))
	}
	if strings.Contains(err.Error(), "sk-12345") || !strings.Contains(err.Error(), "internal error (ref ") {
		t.Errorf("the caller sees %q", err)
	}
	ref := strings.TrimSuffix(strings.SplitN(strings.SplitN(err.Error(), "(ref ", 2)[1], ")", 2)[0], ")")
	if l := logs.String(); !strings.Contains(l, "ref="+ref) || !strings.Contains(l, "sk-12345") || !strings.Contains(l, "level=ERROR") {
		t.Errorf("the log lacks the detail under ref %s:\n%s", ref, l)
	}
}
