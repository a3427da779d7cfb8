package postgres_test

import (
	"context"
	"testing"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// TestSearchPlanSettingsEndWithTheSearch: a search sets planner settings
// for its own queries without a transaction of its own (each batch is one
// implicit transaction); the connection it used goes back to the pool with
// the server's settings, so the next query on it plans as usual.
func TestSearchPlanSettingsEndWithTheSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgrestest.NewURL(t), postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, q := range []string{
		`INSERT INTO organizations (id, name) VALUES ('org_a', 'A')`,
		`INSERT INTO customers (organization_id, id, first_name, email, created)
			SELECT 'org_a', 'cust_' || n, CASE WHEN n % 3 = 0 THEN 'Smith' ELSE 'Jones' END, 'c' || n || '@example.com',
				'2026-01-01'::timestamptz + n * interval '1 second'
			FROM generate_series(1, 5000) n`,
		`ANALYZE customers`,
	} {
		if _, err := st.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, term := range []string{"smith", "c4999@", "zzzz", "ab"} { // walked, probed, nothing, no trigram
		list, page, err := st.FindCustomers(ctx, "org_a", customer.Filter{Page: 1, Limit: 20, Search: term})
		if err != nil {
			t.Fatalf("search %q: %v", term, err)
		}
		if term == "smith" && (len(list) != 20 || !page.HasMore) {
			t.Fatalf("search %q: %d customers, page %+v", term, len(list), page)
		}
		for _, setting := range []string{"enable_seqscan", "enable_sort", "enable_bitmapscan", "enable_indexscan"} {
			var v string
			if err := st.Pool().QueryRow(ctx, "SELECT current_setting('"+setting+"')").Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != "on" {
				t.Errorf("after searching %q the pool's connection has %s = %s", term, setting, v)
			}
		}
	}
}
