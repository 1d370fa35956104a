package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

// contractTool is a read or sync tool, whose input and output package wire
// declares as Go structs. Its JSON Schemas are generated from those structs
// the way an app's tools get theirs (schema.ForType), so the published
// schema, the validation of a call and the client's decoding share one
// definition.
type contractTool struct {
	name, description string
	hints             mcp.ToolAnnotation
	// out is the output struct; nil declares no outputSchema.
	out reflect.Type
	// tables, when set, become the enum of the input's table property. The
	// enum is published only: a call naming another table is answered
	// "unknown", not "invalid_input", and server-only tables read the same
	// as absent ones.
	tables []string
}

// addContractTool adds tool t, whose input is In, with handler h. A call's
// arguments are checked against the input's schema before h runs, so h
// sees only valid input; a call that fails the check is answered
// invalid_input, naming each offending field.
func addContractTool[In any](s *Server, t contractTool, h func(context.Context, In) (*mcp.CallToolResult, error)) error {
	in, check, err := schema.ForType(reflect.TypeFor[In](), "arguments of "+t.name)
	if err != nil {
		return fmt.Errorf("tool %s: %w", t.name, err)
	}
	if t.tables != nil {
		names := make([]any, len(t.tables))
		for i, name := range t.tables {
			names[i] = name
		}
		if in, err = schema.WithEnum(in, "table", names); err != nil {
			return fmt.Errorf("tool %s: %w", t.name, err)
		}
	}
	tool := mcp.NewToolWithRawSchema(t.name, t.description, s.inputSchema(t.name, in))
	if t.out != nil {
		if tool.RawOutputSchema, _, err = schema.ForType(t.out, "output of "+t.name); err != nil {
			return fmt.Errorf("tool %s: %w", t.name, err)
		}
	}
	tool.Annotations = t.hints
	s.mcp.AddTool(tool, func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args In
		if err := decodeInput(req, check, &args); err != nil {
			return errorWithKind(wire.KindInvalidInput, invalidArguments(t.name, err)), nil
		}
		return h(ctx, args)
	})
	return nil
}

// decodeInput checks a call's arguments against v and decodes them, with
// the same rules and messages as a mutator's input: a null at an optional
// property is absent, a missing one takes its default.
func decodeInput(req mcp.CallToolRequest, v *schema.Validator, into any) error {
	raw, err := arguments(req)
	if err != nil {
		return err
	}
	raw = v.Prepare(raw) // as the engine does for mutators and actions
	if err := v.Validate(raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, into); err != nil {
		// Past the schema, only a number out of its Go type's range fails;
		// encoding/json's message would name Go types and fields.
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return fmt.Errorf("at /%s: the value %s is out of range", te.Field, te.Value)
		}
		return errors.New("the arguments could not be decoded")
	}
	return nil
}

// invalidArguments words a call's bad arguments: a validation error names
// its fields itself; anything else gets the tool's name.
func invalidArguments(tool string, err error) string {
	if ve, ok := errors.AsType[*schema.ValidationError](err); ok {
		return ve.Error()
	}
	return fmt.Sprintf("invalid arguments of %s: %v", tool, err)
}

// inputSchema is the input schema tool publishes: in itself, or with
// Options.StrictSchemas its strict form. What strict mode cannot express
// is logged once, at start, and published as declared. The sync tools stay
// as declared: no listing shows them, only the Go client calls them.
func (s *Server) inputSchema(tool string, in json.RawMessage) json.RawMessage {
	if !s.opts.StrictSchemas || strings.HasPrefix(tool, wire.SyncToolPrefix) {
		return in
	}
	strict, problems, err := schema.Strict(in)
	if err != nil {
		s.log.Warn("cannot make a tool's input schema strict; publishing it as declared", "tool", tool, "err", err)
		return in
	}
	for _, p := range problems {
		s.log.Warn("part of a tool's input schema cannot be made strict; hosts with strict mode may refuse the tool", "tool", tool, "at", p)
	}
	return strict
}
