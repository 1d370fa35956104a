package schema_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/schema"
)

type scopeIn struct {
	ID string `json:"id"`
}

func TestScopesRecorded(t *testing.T) {
	m := schema.Mutator[scopeIn]("write", "w", schema.Scopes("todos:write"), schema.Scopes("admin"))
	a := schema.Action[scopeIn, string]("act", "a", schema.Scopes("todos:ai"))
	s, err := schema.Define(1, m, a)
	if err != nil {
		t.Fatal(err)
	}
	mi, _ := s.Mutator("write")
	ai, _ := s.Action("act")
	if !slices.Equal(mi.Scopes, []string{"todos:write", "admin"}) || !slices.Equal(ai.Scopes, []string{"todos:ai"}) {
		t.Errorf("scopes %v and %v, want [todos:write admin] and [todos:ai]", mi.Scopes, ai.Scopes)
	}
}

func TestScopesRefusedWhereTheyCannotApply(t *testing.T) {
	for _, c := range []struct {
		name string
		decl schema.Decl
		want string
	}{
		{"on a table", schema.Table[scopeIn]("rows", schema.Scopes("x")), "Scopes applies to mutators and actions"},
		{"empty", schema.Mutator[scopeIn]("m", "m", schema.Scopes("")), `Scopes(""): a scope is a non-empty word`},
		{"with a space", schema.Action[scopeIn, string]("a", "a", schema.Scopes("a b")), `Scopes("a b")`},
		{"with a quote", schema.Mutator[scopeIn]("m", "m", schema.Scopes(`a"b`)), `a scope is a non-empty word`},
	} {
		_, err := schema.Define(1, c.decl)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
