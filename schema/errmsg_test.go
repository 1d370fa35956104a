package schema_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/schema"
)

// TestValidationMessagesAreBounded: a validation error's message quotes at
// most a short prefix of what the sender wrote (an unknown field's name, a
// bad value) and lists a bounded number of problems, however large the
// input; the Fields keep the full list for programs.
func TestValidationMessagesAreBounded(t *testing.T) {
	s, err := schema.Define(1, schema.Mutator[Todo]("setTodo", "x"))
	if err != nil {
		t.Fatal(err)
	}
	set, _ := s.Mutator("setTodo")
	long := strings.Repeat("k", 100_000)
	var many strings.Builder
	many.WriteString(`{"id":"1","text":"a","completed":false`)
	for i := range 5000 {
		fmt.Fprintf(&many, `,"extra%d":1`, i)
	}
	many.WriteString("}")
	for name, in := range map[string]string{
		"a 100 KB field name":    `{"id":"1","text":"a","completed":false,"` + long + `":1}`,
		"a 100 KB enum value":    `{"id":"1","text":"a","completed":false,"status":"` + long + `"}`,
		"5,000 unknown fields":   many.String(),
		"a 100 KB wrong-type id": `{"id":["` + long + `"],"text":"a","completed":false}`,
	} {
		err := set.Input.Validate([]byte(in))
		if err == nil {
			t.Fatalf("%s: validated", name)
		}
		if n := len(err.Error()); n > 2000 {
			t.Errorf("%s: the message is %d bytes: %.200q…", name, n, err.Error())
		}
	}
}
