package cli_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/schema"
)

type thing struct {
	Name string `json:"name"`
}

// TestHelpReadsRight: every command's --help goes to stdout and exits 0;
// each flag's argument is named for what it takes (no bare "string" or
// "value", and no sentence cut into an argument name by a backquote);
// --ai-delay is offered only by an app with a built-in AI stream.
func TestHelpReadsRight(t *testing.T) {
	things := schema.Table[thing]("things")
	cfg := backend.Config{Schema: schema.MustDefine(1, things)}
	bare := regexp.MustCompile(`(?m)^  -\S+ (string|value)$`)
	argName := regexp.MustCompile(`(?m)^  -\S+ (.+)$`)
	for _, localAI := range []bool{false, true} {
		opts := []cli.Option{cli.WithName("things")}
		if localAI {
			opts = append(opts, cli.WithLocalAI())
		}
		p := cli.New(cfg, opts...)
		for _, c := range p.Commands {
			var out, errb bytes.Buffer
			code := p.Run(t.Context(), &cli.Environ{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, []string{c.Name, "--help"})
			text := out.String()
			if code != cli.ExitOK || errb.Len() > 0 || !strings.HasPrefix(text, "Usage: things "+c.Name) {
				t.Errorf("%s --help: exit %d, stdout %q, stderr %q", c.Name, code, text, errb.String())
			}
			if m := bare.FindString(text); m != "" {
				t.Errorf("%s --help: %q does not say what the flag takes", c.Name, m)
			}
			for _, m := range argName.FindAllStringSubmatch(text, -1) {
				if a := m[1]; a != "duration" && a != "int" && a != "n" && a != "bytes" && a != strings.ToUpper(a) {
					t.Errorf("%s --help: argument name %q in %q: a backquote cut the usage", c.Name, a, m[0])
				}
			}
			if c.Name == "serve" && strings.Contains(text, "-ai-delay") != localAI {
				t.Errorf("serve --help with local AI %v: --ai-delay offered %v", localAI, !localAI)
			}
		}
	}
}
