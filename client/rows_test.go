package client_test

import (
	"fmt"
	"testing"

	"github.com/mcp-sync/mcp-sync/client"
)

// TestGetRowAndListRows reads rows typed over the wire: a found row, a
// missing one, a page with a cursor, and a server-only table refused.
func TestGetRowAndListRows(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, false)
	ctx := testCtx(t)
	for i := range 3 {
		if _, err := client.Mutate(ctx, c, put, PutIn{Key: fmt.Sprintf("k%d", i), Name: fmt.Sprintf("n%d", i), Count: i}); err != nil {
			t.Fatal(err)
		}
	}
	it, found, ver, err := client.GetRow(ctx, c, items, "k2")
	if err != nil || !found || it != (Item{Name: "n2", Count: 2}) || ver == 0 {
		t.Fatalf("GetRow k2: %+v %v %d %v", it, found, ver, err)
	}
	it, found, _, err = client.GetRow(ctx, c, items, "nothere")
	if err != nil || found || it != (Item{}) {
		t.Errorf("GetRow of a missing row: %+v %v %v", it, found, err)
	}
	page, err := client.ListRows(ctx, c, items, client.ListOptions{Limit: 2})
	if err != nil || len(page.Rows) != 2 || page.Rows[0].Key != "k0" || page.Rows[1].Value.Name != "n1" || page.Next == "" {
		t.Fatalf("ListRows page 1: %+v %v", page, err)
	}
	page, err = client.ListRows(ctx, c, items, client.ListOptions{After: page.Next, Limit: 2})
	if err != nil || len(page.Rows) != 1 || page.Rows[0].Value.Count != 2 || page.Next != "" {
		t.Errorf("ListRows page 2: %+v %v", page, err)
	}
	if _, _, _, err := client.GetRow(ctx, c, locks, "z"); err == nil {
		t.Errorf("GetRow of a server-only table: %v, want an error", err)
	}
}
