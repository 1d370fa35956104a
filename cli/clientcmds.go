package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	mg "github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/wire"
)

// tools is the tools command.
func (a *appCmds) tools(ctx context.Context, env *Environ, args []string) int {
	fs := NewFlags(env, a.prog, "tools", "tools [flags]",
		"Lists a server's tools with their descriptions, hints and input schemas.\n"+
			"By default it starts `"+a.prog+" serve` on the data file over stdio; --url talks to\n"+
			"a running server instead.")
	asJSON := fs.Bool("json", false, "print the tools/list result as JSON")
	cf := a.addConnFlags(fs)
	pos, code, ok := ParseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(env.Stderr, "%s tools: unexpected argument %q\n", a.prog, pos[0])
		return ExitUsage
	}
	cn, err := a.dial(ctx, env, cf)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s tools: %v\n", a.prog, err)
		return ExitFail
	}
	defer cn.Close()
	res, err := cn.ListTools(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s tools: %v\n", a.prog, err)
		return ExitFail
	}
	if *asJSON {
		out, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintln(env.Stdout, string(out))
		return ExitOK
	}
	for i, t := range res.Tools {
		if i > 0 {
			fmt.Fprintln(env.Stdout)
		}
		fmt.Fprintf(env.Stdout, "%s%s\n  %s\n", t.Name, hintSummary(t.Annotations), t.Description)
		raw, _ := json.Marshal(t)
		var schemas struct {
			In  json.RawMessage `json:"inputSchema"`
			Out json.RawMessage `json:"outputSchema"`
		}
		_ = json.Unmarshal(raw, &schemas)
		fmt.Fprintf(env.Stdout, "  input:  %s\n", compactSchema(schemas.In))
		if len(schemas.Out) > 0 {
			fmt.Fprintf(env.Stdout, "  output: %s\n", compactSchema(schemas.Out))
		}
	}
	return ExitOK
}

// hintSummary says in words what a tool's hints promise.
func hintSummary(a mg.ToolAnnotation) string {
	var h []string
	is := func(b *bool) bool { return b != nil && *b }
	if is(a.ReadOnlyHint) {
		h = append(h, "read-only")
	}
	if is(a.DestructiveHint) {
		h = append(h, "destructive")
	}
	if is(a.IdempotentHint) {
		h = append(h, "idempotent")
	}
	if is(a.OpenWorldHint) {
		h = append(h, "open-world")
	}
	if len(h) == 0 {
		return ""
	}
	return " (" + strings.Join(h, ", ") + ")"
}

// compactSchema prints an object schema as {field: type, …}, required
// fields marked with *; anything else as compact JSON.
func compactSchema(raw json.RawMessage) string {
	var s struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if json.Unmarshal(raw, &s) != nil || s.Type != "object" {
		var b bytes.Buffer
		_ = json.Compact(&b, raw)
		return b.String()
	}
	req := map[string]bool{}
	for _, r := range s.Required {
		req[r] = true
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		var p struct {
			Type any   `json:"type"`
			Enum []any `json:"enum"`
		}
		_ = json.Unmarshal(s.Properties[n], &p)
		t := fmt.Sprint(p.Type)
		if p.Type == nil {
			t = "any"
		}
		if len(p.Enum) > 0 {
			t = fmt.Sprint(p.Enum)
		}
		mark := ""
		if req[n] {
			mark = "*"
		}
		parts[i] = n + mark + ": " + t
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// call is the call command.
func (a *appCmds) call(ctx context.Context, env *Environ, args []string) int {
	fs := NewFlags(env, a.prog, "call", "call [flags] TOOL [JSON|-]",
		"Calls a tool and prints its result: structured results as JSON, text as text.\n"+
			"JSON is the arguments object (default {}; - reads it from stdin). Progress from\n"+
			"an action is shown on stderr while it runs. Exits 1 when the tool reports an\n"+
			"error (isError), printing its message on stderr. With --task the action runs as\n"+
			"a task: the server records it and the call waits for its result by polling, so it\n"+
			"outlives client timeouts and server restarts (get_run reads the same run).")
	cf := a.addConnFlags(fs)
	quiet := fs.Bool("q", false, "do not show progress")
	asTask := fs.Bool("task", false, "run the action as a task and wait for its result (its id is shown on stderr)")
	pos, code, ok := ParseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		fs.Usage()
		return ExitUsage
	}
	name, input := pos[0], "{}"
	if len(pos) == 2 {
		input = pos[1]
	}
	if input == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s call: reading arguments from stdin: %v\n", a.prog, err)
			return ExitFail
		}
		input = string(b)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(input), &obj); err != nil {
		fmt.Fprintf(env.Stderr, "%s call: the arguments must be a JSON object, e.g. '{\"id\":\"1\"}': %v\n", a.prog, err)
		return ExitUsage
	}
	cn, err := a.dial(ctx, env, cf)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s call: %v\n", a.prog, err)
		return ExitFail
	}
	defer cn.Close()
	var onProgress client.ProgressFunc
	progressShown := false
	if !*quiet {
		onProgress = func(p, total float64, msg string) {
			line := fmt.Sprintf("progress %g", p)
			if total > 0 {
				line = fmt.Sprintf("progress %g/%g", p, total)
			}
			if msg != "" {
				line += ": " + msg
			}
			if env.IsTerminal {
				fmt.Fprintf(env.Stderr, "\r\033[K%s", line) // redraw one status line
			} else {
				fmt.Fprintln(env.Stderr, line)
			}
			progressShown = true
		}
	}
	var out json.RawMessage
	if *asTask {
		out, err = a.callTask(ctx, env, cn, name, json.RawMessage(input), *quiet)
	} else {
		out, err = cn.CallWithProgress(ctx, name, json.RawMessage(input), onProgress)
	}
	if progressShown && env.IsTerminal {
		fmt.Fprintln(env.Stderr)
	}
	var ce *client.CallError
	switch {
	case errors.Is(err, client.ErrUnknown):
		if names, lerr := toolNames(ctx, cn); lerr == nil && !slices.Contains(names, name) {
			fmt.Fprintf(env.Stderr, "%s call: %s\n", a.prog, unknownName("tool", name, names))
			return ExitFail
		}
		if table, ok := obj["table"].(string); ok {
			if names, ok := tableNames(ctx, cn); ok && !slices.Contains(names, table) {
				fmt.Fprintf(env.Stderr, "%s call %s: %s\n", a.prog, name, unknownName("table", table, names))
				return ExitFail
			}
		}
		fmt.Fprintf(env.Stderr, "%s call %s: %v\n", a.prog, name, err)
		return ExitFail
	case errors.As(err, &ce):
		fmt.Fprintf(env.Stderr, "%s call %s: the tool reported an error: %s\n", a.prog, name, ce.Message)
		return ExitFail
	case err != nil:
		fmt.Fprintf(env.Stderr, "%s call %s: %v\n", a.prog, name, err)
		return ExitFail
	}
	var text string
	if json.Unmarshal(out, &text) == nil { // a text result
		fmt.Fprintln(env.Stdout, text)
		return ExitOK
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, out, "", "  ")
	fmt.Fprintln(env.Stdout, pretty.String())
	return ExitOK
}

// watch is the watch command.
func (a *appCmds) watch(ctx context.Context, env *Environ, args []string) int {
	fs := NewFlags(env, a.prog, "watch", "watch [flags] TABLE[/KEY]",
		"Prints a table's or a row's changes live, as they are committed. A row whose\n"+
			"text grows is redrawn in place on a terminal (only the new text is printed);\n"+
			"otherwise each value is printed as one JSON line. A table prints a line per\n"+
			"changed row: KEY VALUE (or KEY deleted). Stops on Ctrl-C, or with --until.")
	cf := a.addConnFlags(fs)
	until := fs.String("until", "", "stop once the row matches `FIELD=VALUE`, e.g. status=ready (rows only)")
	pos, code, ok := ParseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fs.Usage()
		return ExitUsage
	}
	table, key, isRow := strings.Cut(pos[0], "/")
	if table == "" || isRow && key == "" {
		fmt.Fprintf(env.Stderr, "%s watch: want TABLE or TABLE/KEY, got %q\n", a.prog, pos[0])
		return ExitUsage
	}
	untilField, untilValue, hasUntil := strings.Cut(*until, "=")
	if *until != "" && (!hasUntil || !isRow) {
		fmt.Fprintf(env.Stderr, "%s watch: --until takes FIELD=VALUE and needs TABLE/KEY\n", a.prog)
		return ExitUsage
	}
	cn, err := a.dial(ctx, env, cf)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s watch: %v\n", a.prog, err)
		return ExitFail
	}
	defer cn.Close()
	if names, ok := tableNames(ctx, cn); ok && !slices.Contains(names, table) {
		fmt.Fprintf(env.Stderr, "%s watch: %s\n", a.prog, unknownName("table", table, names))
		return ExitFail
	}
	uri := wire.TableURI(table)
	if isRow {
		uri = wire.RowURI(table, key)
	}
	updates, stop, err := cn.Subscribe(ctx, uri)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s watch: subscribing to %s: %v\n", a.prog, uri, err)
		return ExitFail
	}
	defer stop()
	var show func() (done bool, err error)
	if isRow {
		w := &rowWatch{env: env, field: untilField, value: untilValue}
		said := false
		show = func() (bool, error) {
			text, err := cn.ReadResource(ctx, uri)
			if err != nil && strings.Contains(err.Error(), "no row") {
				if !said {
					fmt.Fprintf(env.Stderr, "%s watch: %s/%s does not exist yet; waiting for it to be written (Ctrl-C stops)\n", a.prog, table, key)
					said = true
				}
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return w.show(text), nil
		}
	} else {
		w := &tableWatch{env: env, last: map[string]string{}}
		first := true
		show = func() (bool, error) {
			text, err := cn.ReadResource(ctx, uri)
			if err != nil {
				return false, err
			}
			w.show(text, first)
			first = false
			return false, nil
		}
	}
	if done, err := show(); err != nil {
		fmt.Fprintf(env.Stderr, "%s watch: reading %s: %v\n", a.prog, uri, err)
		return ExitFail
	} else if done {
		return ExitOK
	}
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case _, ok := <-updates: // coalesced: one read answers every update so far
			if !ok {
				fmt.Fprintf(env.Stderr, "%s watch: the connection closed\n", a.prog)
				return ExitFail
			}
		}
		done, err := show()
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s watch: reading %s: %v\n", a.prog, uri, err)
			return ExitFail
		}
		if done {
			return ExitOK
		}
	}
}

// rowWatch prints a row's successive values.
type rowWatch struct {
	env          *Environ
	field, value string
	last         string // the last JSON printed
	shownText    string // on a terminal: the text printed so far
	started      bool
}

// show prints a value and reports whether --until is met.
func (w *rowWatch) show(text string) bool {
	var row map[string]any
	_ = json.Unmarshal([]byte(text), &row)
	if text != w.last {
		w.last = text
		t, hasText := row["text"].(string)
		switch {
		case w.env.IsTerminal && hasText && w.started && strings.HasPrefix(t, w.shownText):
			fmt.Fprint(w.env.Stdout, t[len(w.shownText):]) // the text grows in place
			w.shownText = t
		case w.env.IsTerminal && hasText:
			if w.started {
				fmt.Fprintln(w.env.Stdout)
			}
			fmt.Fprint(w.env.Stdout, t)
			w.shownText = t
		default:
			var b bytes.Buffer
			_ = json.Compact(&b, []byte(text))
			fmt.Fprintln(w.env.Stdout, b.String())
		}
		w.started = true
	}
	if w.field == "" {
		return false
	}
	done := fmt.Sprint(row[w.field]) == w.value
	if done && w.env.IsTerminal && w.shownText != "" {
		fmt.Fprintln(w.env.Stdout)
	}
	return done
}

// tableWatch prints the rows of a table's first page that changed.
type tableWatch struct {
	env  *Environ
	last map[string]string
}

func (w *tableWatch) show(text string, first bool) {
	var page struct {
		Rows []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"rows"`
		Next string `json:"next"`
	}
	_ = json.Unmarshal([]byte(text), &page)
	seen := map[string]bool{}
	for _, r := range page.Rows {
		seen[r.Key] = true
		v := string(r.Value)
		if w.last[r.Key] != v {
			fmt.Fprintf(w.env.Stdout, "%s %s\n", printable(r.Key), v)
			w.last[r.Key] = v
		}
	}
	end := "" // with more pages, a key past the page's last may only have moved off it
	if page.Next != "" && len(page.Rows) > 0 {
		end = page.Rows[len(page.Rows)-1].Key
	}
	for k := range w.last {
		switch {
		case seen[k]:
		case end != "" && k > end:
			delete(w.last, k) // off the first page, not deleted: no longer watched
		case !first:
			fmt.Fprintf(w.env.Stdout, "%s deleted\n", printable(k))
			delete(w.last, k)
		}
	}
}

// printable is key as it is when every rune in it prints, else quoted, so
// that a key holding control characters cannot drive the terminal.
func printable(key string) string {
	for _, r := range key {
		if !unicode.IsGraphic(r) {
			return strconv.Quote(key)
		}
	}
	return key
}

// callTask starts name as a task, says its id on stderr (unless quiet),
// and waits for its result.
func (a *appCmds) callTask(ctx context.Context, env *Environ, cn *client.Conn, name string, input json.RawMessage, quiet bool) (json.RawMessage, error) {
	t, out, err := cn.StartTask(ctx, name, input)
	if err != nil || t.ID == "" { // the server answered at once: no task
		return out, err
	}
	if !quiet {
		fmt.Fprintf(env.Stderr, "task %s: %s (get_run reads it as run %s)\n", t.ID, t.Status, t.ID)
	}
	return cn.WaitTask(ctx, name, t.ID)
}
