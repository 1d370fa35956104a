package tools

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// URI prefixes, from the wire contract.
const (
	tablePrefix = wire.TablePrefix
	runPrefix   = wire.RunPrefix
)

// target is what a resource URI names.
type target struct {
	table  string // "" for a run
	key    string // "" for a whole table
	hasKey bool
	run    string
}

func parseURI(uri string) (target, error) {
	switch {
	case strings.HasPrefix(uri, tablePrefix):
		rest := uri[len(tablePrefix):]
		table, escKey, hasKey := strings.Cut(rest, "/")
		if table == "" {
			return target{}, fmt.Errorf("resource URI %s names no table: use %s{table} or %s{table}/{key}", backend.Short(uri), tablePrefix, tablePrefix)
		}
		if !hasKey {
			return target{table: table}, nil
		}
		key, err := url.PathUnescape(escKey)
		if err != nil || key == "" {
			return target{}, fmt.Errorf("resource URI %s: the row key must be a non-empty, path-escaped string", backend.Short(uri))
		}
		return target{table: table, key: key, hasKey: true}, nil
	case strings.HasPrefix(uri, runPrefix):
		id, err := url.PathUnescape(uri[len(runPrefix):])
		if err != nil || id == "" {
			return target{}, fmt.Errorf("resource URI %s: the run id must be a non-empty, path-escaped string", backend.Short(uri))
		}
		return target{run: id}, nil
	}
	return target{}, fmt.Errorf("resource URI %s is not one of this server's (%s… or %s…)", backend.Short(uri), tablePrefix, runPrefix)
}
