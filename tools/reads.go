package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// tableNames are the tables clients may read, in declaration order.
func (s *Server) tableNames() []string {
	names := []string{}
	for _, t := range s.eng.ClientTables() {
		names = append(names, t.Name)
	}
	return names
}

// tableEnum is tableNames as a JSON array, for messages.
func (s *Server) tableEnum() string {
	b, _ := json.Marshal(s.tableNames())
	return string(b)
}

func (s *Server) addReadTools() error {
	tables := s.tableNames()
	if len(tables) == 0 { // no client tables: nothing to read
		return nil
	}
	readOnly := hints(true, false, true, false)
	if err := addContractTool(s, contractTool{name: wire.ToolGetRow, hints: readOnly, tables: tables,
		description: "Read one row of a table by key, with the version the read saw.",
		out:         reflect.TypeFor[wire.GetRowOut]()}, s.getRowTool); err != nil {
		return err
	}
	if err := addContractTool(s, contractTool{name: wire.ToolListRows, hints: readOnly, tables: tables,
		description: fmt.Sprintf("List a table's rows in key order (or reverse), optionally only keys starting with prefix. Pages hold up to limit rows (default %d, at most %d); pass the returned next as after to read the next page.", wire.DefaultListLimit, wire.MaxListLimit),
		out:         reflect.TypeFor[wire.ListRowsOut]()}, s.listRowsTool); err != nil {
		return err
	}
	return addContractTool(s, contractTool{name: wire.ToolGetRun, hints: readOnly,
		description: "Report an enqueued action run's status (queued, running, succeeded, failed), attempts, output or error, by run id.",
		out:         reflect.TypeFor[wire.Run]()}, s.getRunTool)
}

func (s *Server) getRowTool(ctx context.Context, in wire.GetRowIn) (*mcp.CallToolResult, error) {
	val, ok, v, err := s.eng.Get(ctx, in.Table, in.Key)
	if err != nil {
		return s.readErrorResult(err, in.Table), nil
	}
	if ok && !json.Valid(val) {
		return errorWithKind(wire.KindDamaged, damagedRow(in.Table, in.Key)), nil
	}
	return structured(wire.GetRowOut{Table: in.Table, Key: in.Key, Found: ok, Value: val, Version: v})
}

func (s *Server) listRowsTool(ctx context.Context, in wire.ListRowsIn) (*mcp.CallToolResult, error) {
	p, err := s.readPage(ctx, in)
	if err != nil {
		return s.readErrorResult(err, in.Table), nil
	}
	b, err := encodePage(p)
	if err != nil {
		return nil, err
	}
	return structuredJSON(b), nil
}

func (s *Server) readPage(ctx context.Context, in wire.ListRowsIn) (wire.ListRowsOut, error) {
	rows, next, v, err := s.eng.Scan(ctx, in.Table, backend.ScanOptions{Prefix: in.Prefix, After: in.After, Limit: in.Limit, Reverse: in.Reverse})
	if err != nil {
		return wire.ListRowsOut{}, err
	}
	p := wire.ListRowsOut{Table: in.Table, Rows: make([]wire.Row, len(rows)), Next: next, Version: v}
	for i, r := range rows {
		p.Rows[i] = wire.Row{Key: r.Key, Value: r.Value}
		if !json.Valid(r.Value) {
			s.log.Error("a stored value is not valid JSON", "table", in.Table, "key", r.Key)
			p.Rows[i] = wire.Row{Key: r.Key, Value: json.RawMessage("null"), Damaged: damagedRow(in.Table, r.Key)}
		}
	}
	return p, nil
}

func (s *Server) getRunTool(ctx context.Context, in wire.GetRunIn) (*mcp.CallToolResult, error) {
	run, ok, err := s.eng.Run(ctx, in.ID)
	if err != nil {
		return s.readErrorResult(err, ""), nil
	}
	if !ok {
		return errorWithKind(wire.KindUnknown, "no action run with id "+backend.Short(in.ID)), nil
	}
	return structured(runOut(run))
}

// runOut is a run as clients see it.
func runOut(r *backend.Run) wire.Run {
	return wire.Run{ID: r.ID, Action: r.Action, Input: r.Input, Status: wire.RunStatus(r.Status), Attempts: r.Attempts,
		Output: r.Output, Error: r.Error, EnqueuedBy: r.EnqueuedBy, Version: r.Version, EnqueuedAt: r.EnqueuedAt,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, NextAttemptAt: r.NextAttemptAt, Redacted: r.Redacted,
		Task: r.Task, ErrorKind: r.ErrorKind, CancelRequested: r.CancelRequested, Cancelled: r.Cancelled}
}

// readErrorResult is readError as an isError result with its kind.
func (s *Server) readErrorResult(err error, table string) *mcp.CallToolResult {
	kind, msg := s.readError(err, table)
	return errorWithKind(kind, msg)
}

// readError words a read failure of table ("" for a run) for the client,
// with its error kind. Unknown and server-only tables read the same (the
// engine makes sure of it). The engine's messages are the client's to see
// (keys quoted short, a damaged row named, an internal failure only by its
// reference); anything unclassified stays in the server log.
func (s *Server) readError(err error, table string) (kind wire.ErrorKind, msg string) {
	switch backend.KindOf(err) {
	case backend.ErrUnknown:
		return wire.KindUnknown, fmt.Sprintf("no table named %s; readable tables: %s", backend.Short(table), s.tableEnum())
	case backend.ErrInvalidInput:
		return wire.KindInvalidInput, err.Error()
	case backend.ErrForbidden: // a private table read by a caller with no identity
		return wire.KindForbidden, err.Error()
	case backend.ErrDamaged:
		return wire.KindDamaged, err.Error()
	case backend.ErrInternal:
		return wire.KindInternal, err.Error()
	case backend.ErrClosed:
		return wire.KindUnavailable, "the server is shutting down; read again once it is back"
	case backend.ErrUnavailable:
		return wire.KindUnavailable, err.Error()
	}
	where := "reading the run"
	if table != "" {
		where = "reading table " + backend.Short(table)
	}
	return wire.KindInternal, s.internalMessage(where, err, nil)
}

// damagedRow words a row whose stored value is not JSON.
func damagedRow(table, key string) string {
	return fmt.Sprintf("row %s of table %s is damaged (its stored value is not valid JSON); run mcp-sync check", backend.Short(key), backend.Short(table))
}

// structured is a result of v encoded as JSON.
func structured(v any) (*mcp.CallToolResult, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return structuredJSON(b), nil
}

// structuredJSON is a result of the JSON b, encoded once: the structured
// content and the text for clients without it are the same bytes.
func structuredJSON(b []byte) *mcp.CallToolResult {
	return mcp.NewToolResultStructured(json.RawMessage(b), string(b))
}

// addResources lists one resource per client table and templates for rows
// and runs.
func (s *Server) addResources() {
	for _, t := range s.eng.ClientTables() {
		desc := t.Description
		if desc == "" {
			desc = "rows of table " + t.Name
		}
		if t.Private {
			desc += " (private: each user reads and writes only their own rows)"
		}
		s.mcp.AddResource(mcp.NewResource(wire.TableURI(t.Name), t.Name,
			mcp.WithResourceDescription(desc+" (first page; list_rows pages further)"),
			mcp.WithMIMEType("application/json")), s.readResource)
	}
	if len(s.eng.ClientTables()) > 0 {
		s.mcp.AddResourceTemplate(mcp.NewResourceTemplate(tablePrefix+"{table}/{key}", "row",
			mcp.WithTemplateDescription("one row of a table; the key path-escaped"),
			mcp.WithTemplateMIMEType("application/json")), s.readResource)
	}
	s.mcp.AddResourceTemplate(mcp.NewResourceTemplate(runPrefix+"{id}", "action run",
		mcp.WithTemplateDescription("an enqueued action run: status, attempts, output or error"),
		mcp.WithTemplateMIMEType("application/json")), s.readResource)
}

func (s *Server) readResource(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	uri := req.Params.URI
	tg, err := parseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", server.ErrResourceNotFound, err)
	}
	// answerNotFound has turned URIs naming nothing into not-found answers
	// already; what reaches here was there a moment ago.
	var body any
	switch {
	case tg.run != "":
		run, ok, err := s.eng.Run(ctx, tg.run)
		if err != nil {
			return nil, s.resourceError(err, "")
		}
		if !ok {
			return nil, fmt.Errorf("%w: no action run with id %s", server.ErrResourceNotFound, backend.Short(tg.run))
		}
		body = runOut(run)
	case tg.hasKey:
		val, ok, _, err := s.eng.Get(ctx, tg.table, tg.key)
		if err != nil {
			return nil, s.resourceError(err, tg.table)
		}
		if !ok {
			return nil, fmt.Errorf("%w: no row %s in table %s", server.ErrResourceNotFound, backend.Short(tg.key), backend.Short(tg.table))
		}
		if !json.Valid(val) {
			return nil, errors.New(damagedRow(tg.table, tg.key))
		}
		body = val
	default:
		p, err := s.readPage(ctx, wire.ListRowsIn{Table: tg.table})
		if err != nil {
			return nil, s.resourceError(err, tg.table)
		}
		body = p
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "application/json", Text: string(b)}}, nil
}

func (s *Server) resourceError(err error, table string) error {
	_, msg := s.readError(err, table)
	if backend.KindOf(err) == backend.ErrUnknown {
		return fmt.Errorf("%w: %s", server.ErrResourceNotFound, msg)
	}
	return errors.New(msg)
}
