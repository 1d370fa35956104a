package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage/bolt"
)

// Check is the check command of prog: it checks a data file against
// apps[0]'s schema, or with more than one app the one --app names.
func Check(ctx context.Context, env *Environ, prog string, apps []App, args []string) int {
	usageLine := "check [--data FILE | --postgres DSN [--postgres-schema SCHEMA]]"
	if len(apps) > 1 {
		usageLine += " [--app " + appList(apps, "|", false) + "]"
	}
	fs := NewFlags(env, prog, "check", usageLine,
		"Checks a data file without changing it: bbolt's page structure, every value's\n"+
			"checksum and change-log record, and every row as JSON against its table's\n"+
			"schema. Prints a summary naming each problem's table and key. Exits 0 only\n"+
			"when the file is intact, 1 otherwise. A file a running server holds is\n"+
			"reported as in use: stop the server, or check a copy. With --postgres it\n"+
			"checks the data in PostgreSQL instead, in one snapshot, while servers run:\n"+
			"row and log checksums, the log holding every version, and the schemas.")
	data := fs.String("data", "", "data `FILE` (default "+dataDefault(apps[0].Name)+")")
	pg := addPostgresFlags(fs)
	pickApp := appFlag(fs, apps, "the app whose schemas the rows must match: "+appList(apps, ", ", false))
	if code, ok := Parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "%s check: unexpected argument %q\n", prog, fs.Arg(0))
		return ExitUsage
	}
	app, err := pickApp()
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s check: %v\n", prog, err)
		return ExitUsage
	}
	sch := app.Schema
	checkRow := func(table, _ string, value []byte) error {
		if t, ok := sch.Table(table); ok {
			// Every read fills in missing defaulted fields, so a row written
			// before such a field existed is intact.
			return t.Rows.Validate(t.Rows.WithDefaults(value))
		}
		if !json.Valid(value) { // the engine's own tables hold JSON too
			return errors.New("not valid JSON")
		}
		return nil
	}
	dsn, pgSchema, err := pg.resolve(env.Getenv, *data)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s check: %v\n", prog, err)
		return ExitUsage
	}
	if dsn != "" {
		return checkPostgres(ctx, env, prog, dsn, pgSchema, checkRow, sch)
	}
	path, err := DataPath(*data, app.Name, env.Getenv)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s check: %v\n", prog, err)
		return ExitFail
	}
	rep, err := bolt.Check(path, bolt.CheckOptions{Row: checkRow})
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s check: %v\n", prog, err)
		return ExitFail
	}
	printReport(env, prog, rep, sch)
	if !rep.OK() {
		return ExitFail
	}
	return ExitOK
}

// printReport prints what Check found, one problem a line; prog is the
// program whose serve the advice names.
func printReport(env *Environ, prog string, rep *bolt.Report, sch *schema.Schema) {
	w := env.Stdout
	fmt.Fprintf(w, "file:     %s (%d bytes", rep.Path, rep.Size)
	if rep.PageSize > 0 {
		fmt.Fprintf(w, "; %d pages of %d bytes in use", rep.Pages, rep.PageSize)
	}
	fmt.Fprintln(w, ")")
	if rep.Format > 0 {
		fmt.Fprintf(w, "format:   %d; schema version %d; committed version %d\n", rep.Format, rep.SchemaVersion, rep.Version)
	}
	rows := 0
	for _, t := range rep.Tables {
		rows += t.Rows
		printTable(w, sch, t.Name, t.Rows, t.Damaged)
	}
	if rep.Format > 0 {
		fmt.Fprintf(w, "log:      %d change-log records\n", rep.LogRecords)
	}
	fmt.Fprintf(w, "checked:  page structure, checksums, JSON and schemas of %d rows in %d tables\n", rows, len(rep.Tables))
	if rep.OK() {
		fmt.Fprintln(w, "result:   OK")
		return
	}
	fmt.Fprintf(w, "problems: %d\n", len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	fmt.Fprintf(w, "result:   DAMAGED: restore the file from a backup; if only rows are damaged, `%s serve --allow-damaged-rows` starts and rewriting or deleting them repairs it\n", prog)
}

// printTable prints one table's line of a check's summary.
func printTable(w io.Writer, sch *schema.Schema, name string, rows, damaged int) {
	note := ""
	switch _, declared := sch.Table(name); {
	case strings.HasPrefix(name, "."):
		note = " (the engine's own)"
	case !declared:
		note = " (not declared by this app: JSON checked, no schema)"
	}
	bad := ""
	if damaged > 0 {
		bad = fmt.Sprintf(", %d damaged", damaged)
	}
	fmt.Fprintf(w, "table:    %s: %d rows%s%s\n", name, rows, bad, note)
}
