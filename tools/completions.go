package tools

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
)

// maxCompletions is the most values one completion/complete answer carries
// (the protocol's bound).
const maxCompletions = 100

// CompleteFunc completes one argument of an app's prompt or resource
// template (named by ref: the prompt's name or the template's URI
// template): the candidates for argument that start with value, given the
// arguments already resolved. More than 100 values are cut to 100, and the
// answer says there are more. An error's message reaches the client.
type CompleteFunc func(ctx context.Context, ref, argument, value string, resolved map[string]string) ([]string, error)

// completer answers completion/complete: the row template's table and key
// arguments (client tables by name, row keys by prefix) from the engine, the
// app's prompts and templates from Options.
type completer struct{ s *Server }

// CompletePromptArgument implements mcp-go's PromptCompletionProvider.
func (c completer) CompletePromptArgument(ctx context.Context, prompt string, arg mcp.CompleteArgument, cc mcp.CompleteContext) (*mcp.Completion, error) {
	if c.s.opts.CompletePrompt == nil {
		return &mcp.Completion{Values: []string{}}, nil
	}
	vals, err := c.s.opts.CompletePrompt(ctx, prompt, arg.Name, arg.Value, cc.Arguments)
	if err != nil {
		return nil, fmt.Errorf("completing argument %s of prompt %s: %w", backend.Short(arg.Name), backend.Short(prompt), err)
	}
	return completion(vals, false), nil
}

// CompleteResourceArgument implements mcp-go's ResourceCompletionProvider.
func (c completer) CompleteResourceArgument(ctx context.Context, uri string, arg mcp.CompleteArgument, cc mcp.CompleteContext) (*mcp.Completion, error) {
	if uri == tablePrefix+"{table}/{key}" {
		return c.rowArgument(ctx, arg, cc)
	}
	if c.s.opts.CompleteTemplate == nil {
		return &mcp.Completion{Values: []string{}}, nil
	}
	vals, err := c.s.opts.CompleteTemplate(ctx, uri, arg.Name, arg.Value, cc.Arguments)
	if err != nil {
		return nil, fmt.Errorf("completing argument %s of %s: %w", backend.Short(arg.Name), backend.Short(uri), err)
	}
	return completion(vals, false), nil
}

// rowArgument completes the row template: {table} from the client tables'
// names, {key} from the keys of the table already chosen.
func (c completer) rowArgument(ctx context.Context, arg mcp.CompleteArgument, cc mcp.CompleteContext) (*mcp.Completion, error) {
	switch arg.Name {
	case "table":
		var vals []string
		for _, t := range c.s.eng.ClientTables() {
			if strings.HasPrefix(t.Name, arg.Value) {
				vals = append(vals, t.Name)
			}
		}
		sort.Strings(vals)
		return completion(vals, false), nil
	case "key":
		table := cc.Arguments["table"]
		if table == "" || !c.s.clientTable(table) {
			// Nothing to complete from yet: an empty answer, as for a
			// prefix nothing starts with.
			return completion(nil, false), nil
		}
		rows, next, _, err := c.s.eng.Scan(ctx, table, backend.ScanOptions{Prefix: arg.Value, Limit: maxCompletions})
		if err != nil {
			if k := backend.KindOf(err); k == backend.ErrInvalidInput || k == backend.ErrUnknown || k == backend.ErrForbidden {
				return nil, fmt.Errorf("completing key of table %s: %w", backend.Short(table), err)
			}
			return nil, fmt.Errorf("%s", c.s.internalMessage("completion/complete "+table, err, nil))
		}
		vals := make([]string, len(rows))
		for i, r := range rows {
			vals[i] = r.Key
		}
		return completion(vals, next != ""), nil
	}
	return completion(nil, false), nil
}

// completion bounds vals to what one answer may carry.
func completion(vals []string, more bool) *mcp.Completion {
	if vals == nil {
		vals = []string{}
	}
	c := &mcp.Completion{Values: vals, HasMore: more}
	if len(vals) > maxCompletions {
		c.Values, c.Total, c.HasMore = vals[:maxCompletions], len(vals), true
	}
	return c
}
