package postgres_test

import (
	"context"
	"testing"

	"github.com/linkitworks/customers/postgres/postgrestest"
)

// A large completed import analyzes the customers table: the planner knows
// the organization's new size (searches estimate totals and pick their
// plan from it); a small one leaves the table to autovacuum.
func TestSettleImportedCustomers(t *testing.T) {
	t.Parallel()
	st := postgrestest.New(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO organizations (id, name) VALUES ('org_a', 'A')`,
		`INSERT INTO imports (organization_id, id, kind, status, file_name, options, dry_run, chunk_rows, started, created_count, updated_count)
			VALUES ('org_a', 'imp_small', 'customers', 'completed', 'a.csv', '{}', false, 4000, now(), 100, 20),
				('org_a', 'imp_large', 'customers', 'completed', 'b.csv', '{}', false, 4000, now(), 24000, 1000)`,
		`INSERT INTO customers (organization_id, id, first_name, last_name, name)
			SELECT 'org_a', 'cust_' || i, 'F', 'L' || i, 'F L' || i FROM generate_series(1, 25000) i`,
	} {
		if _, err := st.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	estimate := func() int {
		t.Helper()
		var plan []map[string]map[string]any
		if err := st.Pool().QueryRow(ctx, `EXPLAIN (FORMAT JSON) SELECT 1 FROM customers c
			WHERE c.organization_id = 'org_a' AND c.merged_into IS NULL`).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		return int(plan[0]["Plan"]["Plan Rows"].(float64))
	}
	if ran, err := st.SettleImportedCustomers(ctx, "org_a", "imp_small"); err != nil || ran {
		t.Fatalf("a 120-customer import settled the table: %v, %v", ran, err)
	}
	if ran, err := st.SettleImportedCustomers(ctx, "org_a", "imp_large"); err != nil || !ran {
		t.Fatalf("a 25,000-customer import did not settle the table: %v, %v", ran, err)
	}
	if rows := estimate(); rows < 24000 || rows > 26000 {
		t.Fatalf("settled: the planner estimates %d of the organization's 25,000 customers", rows)
	}
}
