package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestProgramRun(t *testing.T) {
	var ran []string
	p := Program{Name: "prog", Tagline: "prog: a test program.", Commands: []Command{
		{Name: "a-long-name", Summary: "does a", Run: func(_ context.Context, _ *Environ, args []string) int {
			ran = append(ran, strings.Join(args, " "))
			return ExitOK
		}},
	}}
	cases := []struct {
		args    []string
		code    int
		ran     string // the args the command saw; "-" when it did not run
		out     string // in stdout
		errText string // in stderr
	}{
		{nil, ExitUsage, "-", "Usage: prog <command>", ""},
		{[]string{"--help"}, ExitOK, "-", "  a-long-name does a", ""},
		{[]string{"help", "a-long-name"}, ExitOK, "--help", "", ""},
		{[]string{"a-long-name", "x", "--y"}, ExitOK, "x --y", "", ""},
		{[]string{"nosuch"}, ExitUsage, "-", "", `prog: unknown command "nosuch"`},
	}
	for _, c := range cases {
		ran = nil
		var out, errb bytes.Buffer
		code := p.Run(t.Context(), &Environ{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, c.args)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
		if got := strings.Join(ran, "|"); (c.ran == "-" && got != "") || (c.ran != "-" && got != c.ran) {
			t.Errorf("%v: the command ran with %q, want %q", c.args, got, c.ran)
		}
		if !strings.Contains(out.String(), c.out) || !strings.Contains(errb.String(), c.errText) {
			t.Errorf("%v: stdout %q (want %q), stderr %q (want %q)", c.args, out.String(), c.out, errb.String(), c.errText)
		}
	}
}

// TestAppFlag: with one app there is no --app and that app is served;
// with several, --app picks one, and an unknown name is refused with the
// names there are.
func TestAppFlag(t *testing.T) {
	one := []App{{Name: "todo"}}
	fs := NewFlags(&Environ{Stderr: &bytes.Buffer{}}, "prog", "serve", "serve", "")
	pick := appFlag(fs, one, "the app")
	if fs.Lookup("app") != nil {
		t.Error("one app: --app is defined")
	}
	if a, err := pick(); err != nil || a.Name != "todo" {
		t.Errorf("one app: picked %q, %v; want todo", a.Name, err)
	}
	several := []App{{Name: "todo"}, {Name: "bench", About: "the bench app"}}
	for _, c := range []struct{ arg, want, err string }{{"", "todo", ""}, {"bench", "bench", ""}, {"nope", "", `unknown app "nope" (want todo, bench)`}} {
		fs := NewFlags(&Environ{Stderr: &bytes.Buffer{}}, "prog", "serve", "serve", "")
		pick := appFlag(fs, several, "the app: "+appList(several, "; ", true))
		args := []string{}
		if c.arg != "" {
			args = []string{"--app", c.arg}
		}
		if code, ok := Parse(fs, args); !ok {
			t.Fatalf("--app %q: parse failed (%d)", c.arg, code)
		}
		a, err := pick()
		if (err == nil) != (c.err == "") || (err != nil && err.Error() != c.err) || a.Name != c.want {
			t.Errorf("--app %q: picked %q, %v; want %q, %q", c.arg, a.Name, err, c.want, c.err)
		}
	}
	if got := appList(several, "; ", true); got != "todo; bench (the bench app)" {
		t.Errorf("appList: %q", got)
	}
}
