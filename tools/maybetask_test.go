package tools

import "testing"

// TestMayBeTask: the look before decoding passes plain tools/calls by, and
// never a message the task layer could claim, however its keys are spelled
// (encoding/json matches keys ignoring case, and escapes spell any).
func TestMayBeTask(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want bool
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"put","arguments":{"key":"a"}}}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"put","arguments":{"taskId":"x","meta":1}}}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"x","task":{}}}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gen","task":{"ttl":1000}}}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gen","TASK" : {}}}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gen","\u0074ask":{}}}`, true},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"gen\",\"ta\u017fk\":{}}}", true},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gen","_meta":{}}}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gen","_Meta":{}}}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"x"}}`, true},
		{`{"task"}`, false}, // no tools/call
	} {
		if got := mayBeTask([]byte(c.msg)); got != c.want {
			t.Errorf("mayBeTask(%s) = %v, want %v", c.msg, got, c.want)
		}
	}
}
