package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// NewFlags returns a flag set that reports to env and prints a usage line,
// "Usage: prog usageLine".
func NewFlags(env *Environ, prog, name, usageLine, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(&flagOut{stdout: env.Stdout, stderr: env.Stderr})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s\n\n%s\n", prog, usageLine, about)
		if hasFlags(fs) {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// Parse parses args; ok is false when the command should exit with code.
// Asked-for help goes to stdout (so `CMD --help | less` works), a parse
// error and its usage to stderr.
func Parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	o, _ := fs.Output().(*flagOut)
	var held bytes.Buffer
	if o != nil {
		o.hold = &held
		defer func() { o.hold = nil }()
	}
	err := fs.Parse(args)
	help := errors.Is(err, flag.ErrHelp)
	if o != nil {
		dst := o.stderr
		if help {
			dst = o.stdout
		}
		_, _ = dst.Write(held.Bytes())
	}
	switch {
	case help:
		return ExitOK, false
	case err != nil:
		return ExitUsage, false
	}
	return 0, true
}

// flagOut is a flag set's output: stderr, except while Parse holds what
// the flag package prints until it knows whether help was asked for.
type flagOut struct {
	stdout, stderr io.Writer
	hold           *bytes.Buffer
}

func (o *flagOut) Write(p []byte) (int, error) {
	if o.hold != nil {
		return o.hold.Write(p)
	}
	return o.stderr.Write(p)
}

// DataPath is where app's data file lives: the --data flag, else
// $MCP_SYNC_DATA, else mcp-sync/APP.db in the user's data directory
// ($XDG_DATA_HOME, or ~/.local/share).
func DataPath(flagValue, app string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p := getenv("MCP_SYNC_DATA"); p != "" {
		return p, nil
	}
	dir := getenv("XDG_DATA_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			var err error
			if home, err = os.UserHomeDir(); err != nil {
				return "", fmt.Errorf("no data file given and no home directory to put one in: pass --data FILE or set MCP_SYNC_DATA")
			}
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "mcp-sync", app+".db"), nil
}

// ParseArgs is Parse that also takes flags after positional arguments
// (`watch todos/1 --until status=ready`), returning the positional ones.
// A "--" ends the flags.
func ParseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if code, ok := Parse(fs, args); !ok {
			return nil, code, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// dataDefault says, for a --data flag's usage, where app's data file is
// when the flag is not given.
func dataDefault(app string) string {
	return "$MCP_SYNC_DATA, else $XDG_DATA_HOME/mcp-sync/" + app + ".db"
}

// PrepareDataDir makes sure the directory of the data file at path exists.
// The default one is created; one the user named (flagValue, or
// $MCP_SYNC_DATA) must exist already, so a typo makes no folders.
func PrepareDataDir(flagValue, path string, getenv func(string) string) error {
	dir := filepath.Dir(path)
	if flagValue == "" && getenv("MCP_SYNC_DATA") == "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating the data directory: %w", err)
		}
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the data file's directory %s does not exist: create it first, or check the path for a typo", dir)
	case err != nil:
		return fmt.Errorf("the data file's directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory, so the data file cannot go in it", dir)
	}
	return nil
}
