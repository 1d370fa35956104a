package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	mg "github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/wire"
)

// unknownName says that there is no kind named name, suggests the closest
// of names if one is close, and lists them all.
func unknownName(kind, name string, names []string) string {
	msg := fmt.Sprintf("no %s named %q", kind, name)
	if best := closest(name, names); best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	if len(names) == 0 {
		return msg
	}
	return msg + fmt.Sprintf("\nthe %ss: %s", kind, strings.Join(names, ", "))
}

// closest is the name in names nearest name by edit distance, ignoring
// case, or "" when none is near enough to be a likely typo.
func closest(name string, names []string) string {
	best, bestD := "", len(name)/3+2
	for _, n := range names {
		if d := editDistance(strings.ToLower(name), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// toolNames lists the server's tools.
func toolNames(ctx context.Context, cn *client.Conn) ([]string, error) {
	res, err := cn.ListTools(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(res.Tools))
	for i, t := range res.Tools {
		names[i] = t.Name
	}
	return names, nil
}

// tableNames lists the tables a client may read: the enum of get_row's
// table property. ok is false when the server does not say.
func tableNames(ctx context.Context, cn *client.Conn) (names []string, ok bool) {
	res, err := cn.ListTools(ctx)
	if err != nil {
		return nil, false
	}
	i := slices.IndexFunc(res.Tools, func(t mg.Tool) bool { return t.Name == wire.ToolGetRow })
	if i < 0 {
		return nil, false
	}
	raw, err := json.Marshal(res.Tools[i])
	if err != nil {
		return nil, false
	}
	var tool struct {
		In struct {
			Properties struct {
				Table struct {
					Enum []string `json:"enum"`
				} `json:"table"`
			} `json:"properties"`
		} `json:"inputSchema"`
	}
	if json.Unmarshal(raw, &tool) != nil || tool.In.Properties.Table.Enum == nil {
		return nil, false
	}
	return tool.In.Properties.Table.Enum, true
}
