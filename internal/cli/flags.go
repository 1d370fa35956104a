package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// NewFlags returns a flag set that reports to env and prints a usage line,
// "Usage: prog usageLine".
func NewFlags(env *Environ, prog, name, usageLine, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
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
func Parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, false
		}
		return ExitUsage, false
	}
	return 0, true
}

// DataPath is where the data file lives: the --data flag, else
// $MCP_SYNC_DATA, else mcp-sync/todo.db in the user's data directory
// ($XDG_DATA_HOME, or ~/.local/share).
func DataPath(flagValue string, getenv func(string) string) (string, error) {
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
	return filepath.Join(dir, "mcp-sync", "todo.db"), nil
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
