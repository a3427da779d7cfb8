package postgres_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// TestSyncPagePlan: a page of a sync (sort=updated after a cursor) seeks
// the index customers_updated and reads only the page, without sorting the
// organization's customers, wherever the cursor is.
func TestSyncPagePlan(t *testing.T) {
	t.Parallel()
	st := postgrestest.New(t)
	ctx := context.Background()
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{
		`INSERT INTO organizations (id, name) VALUES ('org_a', 'A'), ('org_b', 'B')`,
		`INSERT INTO customers (organization_id, id, email, updated)
			SELECT CASE WHEN n % 4 = 0 THEN 'org_b' ELSE 'org_a' END, 'cust_' || n, 'c' || n || '@example.com',
				'2026-01-01'::timestamptz + n * interval '1 second'
			FROM generate_series(1, 12000) n`,
		`ANALYZE customers`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, f := range map[string]customer.Filter{
		"first page":   {Page: 1, Limit: 100, Sort: "updated"},
		"after cursor": {Page: 1, Limit: 100, Sort: "updated", After: &customer.Cursor{Updated: since.Add(100 * time.Minute), ID: "cust_6000"}},
		"since":        {Page: 1, Limit: 100, Sort: "updated", UpdatedSince: &since},
	} {
		query, _, args := postgres.CustomerListQuery("org_a", f, "c.updated, c.id")
		var plan []map[string]any
		if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+query, append(args, f.Limit+1, 0)...).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(plan)
		if s := string(b); !strings.Contains(s, `"Index Name":"customers_updated"`) || strings.Contains(s, `"Node Type":"Sort"`) {
			t.Errorf("%s: not a seek along customers_updated:\n%s", name, s)
		}
	}
}
