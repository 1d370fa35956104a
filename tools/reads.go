package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/tools/wire"
)

// rowOut is one row as the read tools and resources show it. A row whose
// stored value is not JSON is listed with a null value and Damaged saying
// so: one damaged row does not hide the rest of its page.
type rowOut struct {
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
	Damaged string          `json:"damaged,omitempty"`
}

// getRowIn and getRowOut are get_row's input and output.
type getRowIn struct {
	Table string `json:"table"`
	Key   string `json:"key"`
}

type getRowOut struct {
	Table   string          `json:"table"`
	Key     string          `json:"key"`
	Found   bool            `json:"found"`
	Value   json.RawMessage `json:"value,omitempty"`
	Version uint64          `json:"version"`
}

// listRowsIn and page are list_rows's input and output; page is also the
// content of a table resource.
type listRowsIn struct {
	Table   string `json:"table"`
	Prefix  string `json:"prefix,omitempty"`
	After   string `json:"after,omitempty"`
	Limit   int    `json:"limit,omitempty"`
	Reverse bool   `json:"reverse,omitempty"`
}

type page struct {
	Table   string   `json:"table"`
	Rows    []rowOut `json:"rows"`
	Next    string   `json:"next,omitempty"`
	Version uint64   `json:"version"`
}

func (s *Server) tableEnum() string {
	names := []string{}
	for _, t := range s.eng.ClientTables() {
		names = append(names, t.Name)
	}
	b, _ := json.Marshal(names)
	return string(b)
}

func (s *Server) addReadTools() {
	tables := s.tableEnum()
	if tables == "[]" { // no client tables: nothing to read
		return
	}
	tableProp := `"table":{"type":"string","enum":` + tables + `,"description":"the table to read"}`

	t := mcp.NewToolWithRawSchema(toolGetRow, "Read one row of a table by key, with the version the read saw.",
		json.RawMessage(`{"type":"object","properties":{`+tableProp+`,"key":{"type":"string","minLength":1,"description":"the row's key"}},"required":["table","key"],"additionalProperties":false}`))
	t.RawOutputSchema = json.RawMessage(`{"type":"object","properties":{"table":{"type":"string"},"key":{"type":"string"},"found":{"type":"boolean"},"value":{"type":"object"},"version":{"type":"integer"}},"required":["table","key","found","version"]}`)
	t.Annotations = hints(true, false, true, false)
	s.mcp.AddTool(t, s.getRowTool)

	t = mcp.NewToolWithRawSchema(toolListRows, "List a table's rows in key order (or reverse), optionally only keys starting with prefix. Pages hold up to limit rows (default 100, at most 1000); pass the returned next as after to read the next page.",
		json.RawMessage(`{"type":"object","properties":{`+tableProp+`,"prefix":{"type":"string","description":"only keys that start with this"},"after":{"type":"string","description":"the cursor: start after this key (the previous page's next)"},"limit":{"type":"integer","minimum":0,"maximum":1000,"description":"rows per page; 0 means 100"},"reverse":{"type":"boolean","description":"descending key order"}},"required":["table"],"additionalProperties":false}`))
	t.RawOutputSchema = json.RawMessage(`{"type":"object","properties":{"table":{"type":"string"},"rows":{"type":"array","items":{"type":"object","properties":{"key":{"type":"string"},"value":{"type":["object","null"]},"damaged":{"type":"string"}},"required":["key","value"]}},"next":{"type":"string"},"version":{"type":"integer"}},"required":["table","rows","version"]}`)
	t.Annotations = hints(true, false, true, false)
	s.mcp.AddTool(t, s.listRowsTool)

	t = mcp.NewToolWithRawSchema(toolGetRun, "Report an enqueued action run's status (queued, running, succeeded, failed), attempts, output or error, by run id.",
		json.RawMessage(`{"type":"object","properties":{"id":{"type":"string","minLength":1,"description":"the run id"}},"required":["id"],"additionalProperties":false}`))
	t.Annotations = hints(true, false, true, false)
	s.mcp.AddTool(t, s.getRunTool)
}

// decodeArgs decodes a read tool's arguments strictly, so a typo in a field
// name is an error instead of being ignored.
func decodeArgs(req mcp.CallToolRequest, into any) error {
	raw, err := arguments(req)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

func (s *Server) getRowTool(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in getRowIn
	if err := decodeArgs(req, &in); err != nil {
		return errorWithKind("invalid_input", "invalid arguments for get_row: "+err.Error()+`; expected {"table": string, "key": string}`), nil
	}
	if in.Key == "" {
		return errorWithKind("invalid_input", `invalid arguments for get_row: at "/key": a non-empty key is required`), nil
	}
	val, ok, v, err := s.eng.Get(ctx, in.Table, in.Key)
	if err != nil {
		return s.readErrorResult(err, in.Table), nil
	}
	if ok && !json.Valid(val) {
		return errorWithKind("damaged", damagedRow(in.Table, in.Key)), nil
	}
	return structured(getRowOut{Table: in.Table, Key: in.Key, Found: ok, Value: val, Version: v})
}

func (s *Server) listRowsTool(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in listRowsIn
	if err := decodeArgs(req, &in); err != nil {
		return errorWithKind("invalid_input", "invalid arguments for list_rows: "+err.Error()), nil
	}
	if in.Limit < 0 || in.Limit > 1000 {
		return errorWithKind("invalid_input", fmt.Sprintf(`invalid arguments for list_rows: at "/limit": want 0..1000, got %d`, in.Limit)), nil
	}
	p, err := s.readPage(ctx, in)
	if err != nil {
		return s.readErrorResult(err, in.Table), nil
	}
	return structured(p)
}

func (s *Server) readPage(ctx context.Context, in listRowsIn) (page, error) {
	rows, next, v, err := s.eng.Scan(ctx, in.Table, backend.ScanOptions{Prefix: in.Prefix, After: in.After, Limit: in.Limit, Reverse: in.Reverse})
	if err != nil {
		return page{}, err
	}
	p := page{Table: in.Table, Rows: make([]rowOut, len(rows)), Next: next, Version: v}
	for i, r := range rows {
		p.Rows[i] = rowOut{Key: r.Key, Value: r.Value}
		if !json.Valid(r.Value) {
			s.log.Error("a stored value is not valid JSON", "table", in.Table, "key", r.Key)
			p.Rows[i] = rowOut{Key: r.Key, Value: json.RawMessage("null"), Damaged: damagedRow(in.Table, r.Key)}
		}
	}
	return p, nil
}

func (s *Server) getRunTool(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in struct {
		ID string `json:"id"`
	}
	if err := decodeArgs(req, &in); err != nil || in.ID == "" {
		return errorWithKind("invalid_input", `invalid arguments for get_run: expected {"id": "<run id>"} with a non-empty id`), nil
	}
	run, ok, err := s.eng.Run(ctx, in.ID)
	if err != nil {
		return s.readErrorResult(err, ""), nil
	}
	if !ok {
		return errorWithKind("unknown", "no action run with id "+backend.Short(in.ID)), nil
	}
	return structured(run)
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
func (s *Server) readError(err error, table string) (kind, msg string) {
	switch backend.KindOf(err) {
	case backend.ErrUnknown:
		return "unknown", fmt.Sprintf("no table named %s; readable tables: %s", backend.Short(table), s.tableEnum())
	case backend.ErrInvalidInput:
		return "invalid_input", err.Error()
	case backend.ErrDamaged:
		return "damaged", err.Error()
	case backend.ErrInternal:
		return "internal", err.Error()
	case backend.ErrClosed:
		return "unavailable", "the server is shutting down; read again once it is back"
	}
	where := "reading the run"
	if table != "" {
		where = "reading table " + backend.Short(table)
	}
	return "internal", s.internalMessage(where, err, nil)
}

// damagedRow words a row whose stored value is not JSON.
func damagedRow(table, key string) string {
	return fmt.Sprintf("row %s of table %s is damaged (its stored value is not valid JSON); run mcp-sync check", backend.Short(key), backend.Short(table))
}

func structured(v any) (*mcp.CallToolResult, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return mcp.NewToolResultStructured(json.RawMessage(b), string(b)), nil
}

// addResources lists one resource per client table and templates for rows
// and runs.
func (s *Server) addResources() {
	for _, t := range s.eng.ClientTables() {
		desc := t.Description
		if desc == "" {
			desc = "rows of table " + t.Name
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
		body = run
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
		p, err := s.readPage(ctx, listRowsIn{Table: tg.table})
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
